"""Small real things the tests share: generated ImageNet-shaped folders and known-answer weights."""

import json
from pathlib import Path

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
