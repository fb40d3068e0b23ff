"""ImageNet validation data: wnid-labelled folders, seeded subsets, loaders, synthetic input."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets

from .cli import DEFAULT_DATA_PATH, UserError

WNIDS_FILE = Path(__file__).with_name("imagenet_synsets.txt")
IMAGE_EXTENSIONS = datasets.folder.IMG_EXTENSIONS


def imagenet_wnids() -> list:
    """The 1000 ImageNet-1k WordNet ids in class-index order (sorted, as torchvision's weights use)."""
    return WNIDS_FILE.read_text().split()


_WNID_TO_INDEX = {wnid: index for index, wnid in enumerate(imagenet_wnids())}


def class_index(folder_name: str):
    """A class folder's ImageNet-1k index: its wnid's position, or the number itself (ImageNet-V2)."""
    if folder_name in _WNID_TO_INDEX:
        return _WNID_TO_INDEX[folder_name]
    if folder_name.isdigit() and int(folder_name) < len(_WNID_TO_INDEX):
        return int(folder_name)
    return None


@dataclass
class BadImage:
    """Stands in for an image that could not be decoded, so the main process can name it."""
    path: str
    reason: str


class ImageNetFolder(datasets.ImageFolder):
    """An ImageFolder whose labels are ImageNet-1k indices, not ranks among the folders present.

    A subset of classes (Imagenette, a few val classes) is then scored against the right logits.
    An image that fails to decode comes back as a BadImage instead of raising in a worker.
    """

    def find_classes(self, directory):
        classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
        unknown = [name for name in classes if class_index(name) is None]
        if unknown:
            raise UserError(f"{directory}: class folder '{unknown[0]}' is neither an ImageNet wnid "
                            f"(like n01440764) nor a class index 0..999")
        return classes, {name: class_index(name) for name in classes}

    def __getitem__(self, index):
        path, target = self.samples[index]
        try:
            image = self.loader(path)
        except (OSError, SyntaxError, ValueError) as error:  # what PIL raises for damaged files
            return BadImage(path, str(error) or type(error).__name__), target
        if self.transform is not None:
            image = self.transform(image)
        return image, target


def collate_images(batch):
    """Stack the decodable images; hand undecodable ones to the caller by name."""
    bad = [image for image, _ in batch if isinstance(image, BadImage)]
    good = [(image, label) for image, label in batch if not isinstance(image, BadImage)]
    images = torch.stack([image for image, _ in good]) if good else None
    labels = torch.tensor([label for _, label in good], dtype=torch.long)
    return images, labels, bad


def _holds_class_folders(path: Path) -> bool:
    return path.is_dir() and any(entry.is_dir() for entry in os.scandir(path))


def find_dataset_root(path: Path):
    """PATH/val when present (the original layout), else PATH itself; None when neither holds classes."""
    for candidate in (path / "val", path):
        if _holds_class_folders(candidate):
            return candidate
    return None


@dataclass
class DataChoice:
    """What a run reads: a dataset root, or synthetic input and why."""
    root: Path = None
    reason: str = ""
    info: dict = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.root is None


def choose_data(data_path, synthetic: bool) -> DataChoice:
    """The dataset the user asked for; synthetic input when forced or when the default path is empty.

    A path the user named that holds no dataset is an error, never a silent fallback.
    """
    if synthetic:
        return DataChoice(reason="--synthetic")
    if data_path is None:
        root = find_dataset_root(DEFAULT_DATA_PATH)
        if root is None:
            return DataChoice(reason=f"no dataset at the default {DEFAULT_DATA_PATH}")
        return DataChoice(root=root)
    path = Path(data_path)
    if not path.exists():
        raise UserError(f"--data-path {path}: no such directory; expected ImageNet val class folders "
                        f"(PATH/val/n01440764/*.JPEG ...); ./setup_imagenet.sh prepares them")
    root = find_dataset_root(path)
    if root is None:
        raise UserError(f"--data-path {path}: holds no class folders; expected PATH/val/<wnid>/*.JPEG "
                        f"or PATH/<wnid>/*.JPEG; ./setup_imagenet.sh prepares them")
    return DataChoice(root=root)


def open_dataset(root: Path, transform) -> ImageNetFolder:
    try:
        dataset = ImageNetFolder(str(root), transform=transform)
    except FileNotFoundError:
        raise UserError(f"{root}: class folders hold no images ({', '.join(IMAGE_EXTENSIONS[:3])} ...); "
                        f"./setup_imagenet.sh prepares the ImageNet val set")
    return dataset


def choose_indices(total: int, wanted: int, seed: int) -> list:
    """All indices when `wanted` covers the set (or is 0), else a seeded random subset of them.

    A random subset spans all classes; the first N of a class-sorted folder would not.
    """
    if wanted == 0 or wanted >= total:
        return list(range(total))
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:wanted].tolist()


def make_loader(dataset, indices, batch_size: int, workers: int, pin_memory: bool) -> DataLoader:
    return DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=False,
                      num_workers=workers, pin_memory=pin_memory, collate_fn=collate_images,
                      persistent_workers=False)


def synthetic_batch(batch_size: int, device, dtype=torch.float32, seed: int = 0, size: int = 224):
    """Random normal images (never zeros: they can run faster than real data)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, size, size, generator=generator).to(device=device, dtype=dtype)


def input_batch(data: DataChoice, transforms, batch_size: int, seed: int) -> torch.Tensor:
    """One batch to analyse: seeded real images when there is a dataset, random ones otherwise."""
    if data.synthetic:
        return synthetic_batch(batch_size, "cpu", seed=seed)
    dataset = open_dataset(data.root, transforms)
    chosen = choose_indices(len(dataset), batch_size, seed)
    chosen = (chosen * (batch_size // len(chosen) + 1))[:batch_size]  # a small set repeats its images
    images, _, bad = collate_images([dataset[i] for i in chosen])
    if bad:
        raise UserError(f"cannot decode image {bad[0].path} ({bad[0].reason})")
    return images
