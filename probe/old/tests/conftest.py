"""Small real things the tests share: generated ImageNet-shaped folders, photograph-like JPEGs of odd shapes
and markers, and known-answer weights."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import alexnet

from cnnbench.data import imagenet_wnids

WNIDS = imagenet_wnids()


def make_image_folder(root: Path, counts: dict, size=(80, 60), fmt="JPEG") -> Path:
    """root/<wnid>/img_<i>.<fmt> for each {wnid: count}; each image a distinct colour pattern."""
    for c, (wnid, count) in enumerate(counts.items()):
        folder = root / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            generator = torch.Generator().manual_seed(1000 * c + i)
            pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(folder / f"img_{i}.{fmt.lower()}", fmt)
    return root


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random scene with noise: compresses like a photograph."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8))
    scene = np.asarray(coarse.resize((width, height), Image.BICUBIC), dtype=np.float32) + rng.normal(0, 20, (height, width, 3))
    return Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))


def encode(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def _rotated_by_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6      # orientation: neither PIL's loader nor the decoders apply it
    return encode(photo(500, 375, 18), exif=exif.tobytes())


# baseline JPEGs that a batched GPU decoder takes, in shapes and with markers the common ones lack
BASELINE_ODDITIES = {
    "wide_strip": lambda: encode(photo(2000, 20, 11)),
    "tall_strip": lambda: encode(photo(20, 2000, 12)),
    "one_pixel": lambda: encode(photo(1, 1, 13)),
    "seven_by_three": lambda: encode(photo(7, 3, 14)),
    "restart_markers": lambda: encode(photo(500, 375, 15), restart_marker_rows=1),
    "422": lambda: encode(photo(375, 500, 16), subsampling=1),
    "bytes_after_the_end": lambda: encode(photo(500, 333, 17)) + bytes(64),
    "rotated_by_exif": _rotated_by_exif,
}


def write_kinds(folder: Path, kinds: dict) -> Path:
    """folder/<kind>.JPEG for each {kind: maker of its bytes}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in kinds.items():
        (folder / f"{name}.JPEG").write_bytes(make())
    return folder


@pytest.fixture
def known_answer_weights(tmp_path) -> tuple:
    """AlexNet weights whose logits are the last layer's bias whatever the image.

    With classifier.6's weight zeroed, every image gets the same ranking of classes, so the top-1
    and top-5 accuracy of any labelled set is known in advance from its class counts.
    """
    torch.manual_seed(0)
    state = alexnet().state_dict()
    state["classifier.6.weight"].zero_()
    ranking = [7, 3, 500, 42, 999]            # classes by descending logit
    bias = torch.zeros(1000)
    for rank, index in enumerate(ranking):
        bias[index] = 10.0 - rank
    state["classifier.6.bias"] = bias
    path = tmp_path / "known_answers.pth"
    torch.save(state, path)
    return path, ranking


def read_single_json(directory: Path, pattern: str = "*.json") -> dict:
    files = sorted(directory.glob(pattern))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


def pytest_collection_modifyitems(config, items):
    """CPU machines (CI among them) skip the CUDA set, and say why."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device here: the cuda set runs on a GPU machine "
                                   "(pytest -m cuda, or benchmarks/gpu_acceptance.py)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
