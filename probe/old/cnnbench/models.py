"""Building a torchvision classification model with pretrained, random or local weights."""

import difflib
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import models as tv_models
from torchvision.transforms import InterpolationMode
from torchvision.transforms._presets import ImageClassification

from .errors import UserError

# An offline machine can hang on a download for minutes; a short timeout turns that into an error.
DOWNLOAD_TIMEOUT_S = 20


class WeightsUnavailable(UserError):
    """Pretrained weights are neither cached nor downloadable."""


@dataclass
class LoadedModel:
    model: torch.nn.Module
    name: str
    weights: str          # what was loaded: an enum name, a path, or "none"
    pretrained: bool      # whether the weights are trained ones (accuracy means something)
    transforms: object    # the eval preprocessing that goes with these weights
    notice: str = ""      # a warning the run must print and record


def classification_models() -> list:
    return sorted(tv_models.list_models(module=tv_models))


def _check_name(name: str) -> None:
    known = classification_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown model '{name}'{hint}; any torchvision classification model works")


def default_weights(name: str):
    """The model's DEFAULT weight enum entry, or None for models torchvision ships untrained."""
    try:
        return tv_models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        return None


def _eval_transforms(weights_entry):
    if weights_entry is not None:
        return weights_entry.transforms()
    return ImageClassification(crop_size=224, resize_size=256, interpolation=InterpolationMode.BILINEAR)


def _download_state_dict(entry):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return entry.get_state_dict(progress=sys.stderr.isatty(), check_hash=True)
    except (OSError, RuntimeError, ValueError) as error:  # URLError, timeouts, hash mismatch
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
        raise WeightsUnavailable(
            f"pretrained weights {entry} are not in torch's cache ({cache}) and could not be "
            f"downloaded ({type(error).__name__}: {error}). On a machine with internet, download "
            f"{entry.url} and copy it to that path, or name a local weight file")
    finally:
        socket.setdefaulttimeout(previous)


def _read_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"weights {path}: no such file (expected DEFAULT, none, an enum name or a .pth path)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for foreign or damaged files
        raise UserError(f"weights {path}: not a loadable PyTorch weight file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''})")
    for key in ("model", "state_dict", "model_state_dict"):  # common training checkpoints
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise UserError(f"weights {path}: holds a {type(checkpoint).__name__}, not a state dict")
    return checkpoint


def load_model(name: str, weights: str = "DEFAULT", seed: int = 0, allow_random_fallback: bool = False) -> LoadedModel:
    """The model in eval mode on the CPU, with the weights asked for.

    weights: "DEFAULT" or an enum member name (pretrained, via torchvision's weights API),
    "none" (random init, seeded), or a path to a local state dict. When pretrained weights can't
    be had, `allow_random_fallback` decides between random weights with a notice and an error.
    """
    _check_name(name)
    entry = default_weights(name)
    torch.manual_seed(seed)
    model = tv_models.get_model(name, weights=None)
    notice = ""

    if weights.lower() == "none":
        loaded, pretrained = "none", False
    elif Path(weights).suffix in (".pth", ".pt", ".bin", ".ckpt") or Path(weights).exists():
        state_dict = _read_state_dict(Path(weights))
        try:
            model.load_state_dict(state_dict)
        except RuntimeError as error:
            first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
            raise UserError(f"weights {weights}: do not fit {name} ({first})")
        loaded, pretrained = str(weights), True
    else:
        enum = tv_models.get_model_weights(name) if entry is not None else None
        if enum is None:
            raise UserError(f"torchvision has no pretrained weights for {name}; use random weights (none) or a local weight file")
        if weights != "DEFAULT":
            try:
                entry = enum[weights]
            except KeyError:
                raise UserError(f"weights {weights}: not DEFAULT, none, a file, or one of "
                                f"{', '.join(member.name for member in enum)}")
        try:
            model.load_state_dict(_download_state_dict(entry))
            loaded, pretrained = str(entry), True
        except WeightsUnavailable as error:
            if not allow_random_fallback:
                raise
            loaded, pretrained = "none (pretrained weights unavailable)", False
            notice = (f"WARNING: {error}\nWARNING: continuing with RANDOM weights: timings are valid, "
                      f"predictions are meaningless.")
    model.eval()
    return LoadedModel(model=model, name=name, weights=loaded, pretrained=pretrained,
                       transforms=_eval_transforms(entry), notice=notice)


def parameter_counts(model: torch.nn.Module) -> dict:
    """Total parameters, and per top-level child (features, classifier, ...)."""
    counts = {"total": sum(p.numel() for p in model.parameters())}
    for child_name, child in model.named_children():
        n = sum(p.numel() for p in child.parameters())
        if n:
            counts[child_name] = n
    return counts


def leaf_modules(model: torch.nn.Module) -> list:
    """(qualified name, module) for every module with no children, in registration order."""
    return [(name, module) for name, module in model.named_modules()
            if name and not any(True for _ in module.children())]
