"""Result files: self-describing JSON, written atomically, never over an earlier run's."""

import json
import math
import os
import tempfile
from datetime import datetime
from pathlib import Path

from .errors import UserError


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d_%H%M%S")


def reserve_stem(directory: Path, stem: str, suffixes) -> Path:
    """`directory/stem`, or stem_1, stem_2 ... so that no file with any of `suffixes` exists yet."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create output directory {directory}: {error.strerror}")
    candidate, n = stem, 0
    while any((directory / (candidate + suffix)).exists() for suffix in suffixes):
        n += 1
        candidate = f"{stem}_{n}"
    return directory / candidate


def write_atomic(path: Path, write) -> Path:
    """Call write(tmp_path), then publish tmp_path as `path`, failing if `path` appeared meanwhile.

    A hard link publishes atomically and refuses to replace an existing file, so neither an
    interrupted run nor a concurrent one can leave a half-written or overwritten result.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    try:
        write(tmp)
        os.link(tmp, path)
    except FileExistsError:
        raise UserError(f"{path} already exists; not overwriting an earlier result")
    finally:
        os.unlink(tmp)
    return path


def _json_safe(value):
    """NaN and infinity are not JSON: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, payload: dict) -> Path:
    def write(tmp):
        with open(tmp, "w") as out:
            json.dump(_json_safe(payload), out, indent=2)
            out.write("\n")
    return write_atomic(path, write)


def write_text(path: Path, text: str) -> Path:
    def write(tmp):
        Path(tmp).write_text(text)
    return write_atomic(path, write)


def save_figure(path: Path, figure) -> Path:
    import matplotlib.pyplot as plt

    try:
        return write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(figure)


def config_of(args) -> dict:
    """Every flag's value, as the run saw it."""
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
