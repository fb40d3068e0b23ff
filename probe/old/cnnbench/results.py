"""Result files: self-describing JSON, written atomically, never over an earlier run's."""

import glob
import itertools
import json
import math
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from .errors import UserError


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d_%H%M%S")


def check_writable(directory: Path) -> Path:
    """Create `directory` and write a probe file in it, so a run that could not save its results
    fails before it starts, not after."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UserError(f"cannot write results to {directory}: {error.strerror or error}; choose another output folder")
    return directory


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_atomic(path: Path, write, replace: bool = False) -> Path:
    """Call write(tmp_path), then publish tmp_path as `path` in one step.

    By default a hard link publishes it, which refuses to replace an existing file: neither an
    interrupted run nor a concurrent one can leave a half-written or overwritten result. With
    `replace`, a rename replaces the file atomically (the fixed names of the newest run).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
    try:
        write(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        raise UserError(f"{path} already exists; not overwriting an earlier result")
    finally:
        if os.path.exists(tmp):
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


def _dump_json(path, payload: dict) -> None:
    with open(path, "w") as out:
        json.dump(_json_safe(payload), out, indent=2)
        out.write("\n")


_RUNS_IN_THIS_PROCESS = (f"-{n}" if n else "" for n in itertools.count())


class RunFiles:
    """The files one run publishes, under a stem no other run takes: <name>_<timestamp>_<pid>.

    Made before any work (check_writable). As a context manager it removes what the run published
    if the run fails or is interrupted, so no half set of results is left. latest() keeps a copy of
    a finished result under a fixed name (the original project's file names), replaced atomically.
    """

    def __init__(self, directory: Path, name: str):
        self.directory = check_writable(directory)
        # the pid tells concurrent runs apart; the counter, runs within one process
        stem = f"{name}_{timestamp()}_{os.getpid()}"
        self.stem = stem + next(_RUNS_IN_THIS_PROCESS)
        while any(self.directory.glob(glob.escape(self.stem) + "*")):    # a pid reused since
            self.stem = stem + next(_RUNS_IN_THIS_PROCESS)
        self.published = []

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.stem}{suffix}"

    def write_with(self, suffix: str, write) -> Path:
        path = write_atomic(self.path(suffix), write)
        self.published.append(path)
        return path

    def write_json(self, suffix: str, payload: dict) -> Path:
        return self.write_with(suffix, lambda tmp: _dump_json(tmp, payload))

    def write_text(self, suffix: str, text: str) -> Path:
        return self.write_with(suffix, lambda tmp: Path(tmp).write_text(text))

    def save_figure(self, suffix: str, figure) -> Path:
        import matplotlib.pyplot as plt

        try:
            return self.write_with(suffix, lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
        finally:
            plt.close(figure)

    def latest(self, source: Path, fixed_name: str) -> Path:
        """A copy of `source` as directory/fixed_name, replacing the previous run's atomically."""
        return write_atomic(self.directory / fixed_name, lambda tmp: shutil.copyfile(source, tmp), replace=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None:     # failed or interrupted: leave nothing half done
            for path in self.published:
                path.unlink(missing_ok=True)
        return False
