"""ImageNet validation data: wnid-labelled folders, seeded subsets, loaders, synthetic input."""

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets

from .batches import BadImage, collate_samples, decoded_on_gpu, read_encoded, undecodable
from .errors import DEFAULT_DATA_PATH, UserError
from .gpu_decode import GPU_DECODERS, DecodeOnDevice
from .preprocess import DECODE_ERRORS, Preprocess, crop_on_cpu
from .worker_server import cuda_capable_workers

WNIDS_FILE = Path(__file__).with_name("imagenet_synsets.txt")
IMAGE_EXTENSIONS = datasets.folder.IMG_EXTENSIONS
# pil: the original pipeline; cpu: libjpeg-turbo in the workers; gpu: the first GPU decoder that
# runs here (nvjpeg, else nvimgcodec); nvjpeg and nvimgcodec name one
DECODERS = ("pil", "cpu", "gpu") + GPU_DECODERS
GPU_SHARE = 1.0   # of each batch decoded on the GPU; the loader workers decode the rest with libjpeg-turbo


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


class ImageNetFolder(datasets.ImageFolder):
    """An ImageFolder whose labels are ImageNet-1k indices, not ranks among the folders present.

    A subset of classes (Imagenette, a few val classes) is then scored against the right logits.
    Each sample is tagged for the loader's collate function: a "crop" (decoded and transformed in
    the worker: PIL with the weights' transforms, or libjpeg-turbo to a uint8 crop); on the gpu
    paths (decode: a name in GPU_DECODERS) a file's path, "encoded" for the worker's GPU decoder
    (gpu_decode.DecodeOnDevice reads it and its header), or its path and bytes, "cpu-share" for
    the worker's CPU threads (gpu_share < 1); or a "bad" BadImage naming a file that could not be
    read, so that the main process can name it instead of a worker dying.
    """

    def __init__(self, root, transform=None, decode: str = "pil", prep: Preprocess = None,
                 gpu_share: float = GPU_SHARE):
        super().__init__(root, transform=transform)
        self.decode, self.prep, self.gpu_share = decode, prep or Preprocess(), gpu_share

    def make_dataset(self, directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        """Each image file once: directory links that lead back into the data tree are not followed
        (a link to another disk is), and a file reached twice counts once; in two classes it is an error.

        ImageFolder's own walk follows every link, so one `loop -> ..` inside a class folder
        multiplies the images and files them under the wrong class.
        """
        tree = os.path.realpath(directory)
        self.skipped_links, samples, owner = [], [], {}
        for class_name in sorted(class_to_idx):
            visited = set()
            for folder, subfolders, files in os.walk(os.path.join(directory, class_name), followlinks=True):
                visited.add(os.path.realpath(folder))
                kept = []
                for name in sorted(subfolders):
                    path = os.path.join(folder, name)
                    real = os.path.realpath(path)
                    if real in visited or (os.path.islink(path) and (real == tree or real.startswith(tree + os.sep))):
                        self.skipped_links.append(path)
                    else:
                        kept.append(name)
                subfolders[:] = kept
                for name in sorted(files):
                    if not name.lower().endswith(IMAGE_EXTENSIONS):
                        continue
                    path = os.path.join(folder, name)
                    real = os.path.realpath(path)
                    if real in owner:
                        if owner[real] != class_name:
                            raise UserError(f"{path} is the same file as one in class folder {owner[real]}; "
                                            f"an image can have one label only")
                        continue
                    owner[real] = class_name
                    samples.append((path, class_to_idx[class_name]))
        if not samples and not allow_empty:
            raise FileNotFoundError(f"no image files under {directory}")
        return samples

    def find_classes(self, directory):
        classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
        unknown = [name for name in classes if class_index(name) is None]
        if unknown:
            raise UserError(f"{directory}: class folder '{unknown[0]}' is neither an ImageNet wnid "
                            f"(like n01440764) nor a class index 0..999")
        return classes, {name: class_index(name) for name in classes}

    def __getitems__(self, indices) -> "FetchedSamples":
        """One batch's samples, as a loader worker fetches them, with the seconds that took."""
        started = time.perf_counter()
        samples = FetchedSamples(self[index] for index in indices)
        samples.fetch_s = time.perf_counter() - started
        return samples

    def __getitem__(self, index):
        path, target = self.samples[index]
        if self.decode == "pil":
            try:
                image = self.loader(path)
            except DECODE_ERRORS as error:
                return "bad", BadImage.from_error(path, error), target
            return "crop", self.transform(image) if self.transform else image, target
        try:
            if self.decode not in GPU_DECODERS:
                return "crop", crop_on_cpu(read_encoded(path), self.prep), target
            if decoded_on_gpu(index, self.gpu_share):
                return "encoded", path, target     # the worker's decoder reads it into its pinned buffer
            return "cpu-share", (path, read_encoded(path)), target
        except DECODE_ERRORS as error:
            return "bad", BadImage.from_error(path, error), target


class FetchedSamples(list):
    fetch_s = 0.0     # reading the files (on the gpu paths, the CPU share's only)


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
        return DataChoice(reason="synthetic input asked for")
    if data_path is None:
        root = find_dataset_root(DEFAULT_DATA_PATH)
        if root is None:
            return DataChoice(reason=f"no dataset at the default {DEFAULT_DATA_PATH}")
        return DataChoice(root=root)
    path = Path(data_path)
    if not path.exists():
        raise UserError(f"data path {path}: no such directory; expected ImageNet val class folders "
                        f"(PATH/val/n01440764/*.JPEG ...); ./setup_imagenet.sh prepares them")
    root = find_dataset_root(path)
    if root is None:
        raise UserError(f"data path {path}: holds no class folders; expected PATH/val/<wnid>/*.JPEG "
                        f"or PATH/<wnid>/*.JPEG; ./setup_imagenet.sh prepares them")
    return DataChoice(root=root)


def open_dataset(root: Path, transform, decode: str = "pil", gpu_share: float = GPU_SHARE) -> ImageNetFolder:
    prep = Preprocess.from_transforms(transform)
    if decode != "pil":
        prep.check_fast_paths()
    try:
        return ImageNetFolder(str(root), transform=transform, decode=decode, prep=prep, gpu_share=gpu_share)
    except FileNotFoundError:
        raise UserError(f"{root}: class folders hold no images ({', '.join(IMAGE_EXTENSIONS[:3])} ...); "
                        f"./setup_imagenet.sh prepares the ImageNet val set")


def images_at(dataset: ImageNetFolder, indices) -> torch.Tensor:
    """The normalized images at these indices of a PIL-decoding dataset, stacked on the CPU."""
    batch = collate_samples([dataset[i] for i in indices])
    if batch.bad:
        raise undecodable(batch.bad[0])
    return batch.crops


def choose_indices(total: int, wanted: int, seed: int) -> list:
    """All indices when `wanted` covers the set (or is 0), else a seeded random subset of them.

    A random subset spans all classes; the first N of a class-sorted folder would not.
    """
    if wanted == 0 or wanted >= total:
        return list(range(total))
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:wanted].tolist()


class WarmUpFirst:
    """Batch sampler that gives each worker one batch until warm_up_done(), then all batches every pass.

    The warm-up pass starts the processes and, on the gpu path, each worker's CUDA context and
    decoder. The workers persist, so the pass after it is timed from a running start with empty
    queues, neither paying for start-up nor reaping batches prepared during it. The warm-up ends
    when the caller says so, not after one call of iter(): DataLoader's multiprocessing iterator
    calls iter() on its sampler twice as it starts, which made the warm-up a whole pass.
    """

    def __init__(self, indices, batch_size: int, workers: int):
        self.batches = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
        self.warm_up_batches = self.batches[:max(workers, 1)]
        self.warming_up = True

    def warm_up_done(self) -> None:
        self.warming_up = False

    def _current(self) -> list:
        return self.warm_up_batches if self.warming_up else self.batches

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


class LoaderStart:
    """The loader's warm-up pass (WarmUpFirst) in a background thread, overlapping the model's warm-up.

    wait() gives the workers' start-up reports (WorkerClock; each with the time this process had
    its batch, received_at), the loader's start-up in seconds (from here to its last warm-up batch)
    and how much of it the caller waited for.
    """

    def __init__(self, loader: DataLoader):
        self._reports, self._error = [], None
        self._started = time.perf_counter()
        # the workers' reports compare their times with this one: CLOCK_MONOTONIC is one clock for all the
        # machine's processes and never steps (time.time() can, as when a virtual machine resumes)
        self.created_at = time.monotonic()
        self._thread = threading.Thread(target=self._warm_up, args=(loader,), name="loader-start", daemon=True)
        self._thread.start()

    def _warm_up(self, loader) -> None:
        try:
            for batch in loader:
                if batch.startup:
                    self._reports.append(dict(batch.startup, received_at=time.monotonic()))
            loader.batch_sampler.warm_up_done()
        except BaseException as error:   # raised again in wait(), in the caller's thread
            self._error = error
        self._ended = time.perf_counter()

    def wait(self) -> tuple:
        waiting_from = time.perf_counter()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._reports, self._ended - self._started, max(self._ended - waiting_from, 0.0)


def make_loader(dataset, indices, batch_size: int, workers: int, device: torch.device,
                in_order: bool = False) -> DataLoader:
    """Persistent, prefetching workers; batches come back as batches.WorkerBatch.

    Iterate once to warm the workers up (WarmUpFirst; LoaderStart does, and ends the warm-up),
    then again for the real pass. Batches come back as the workers finish them, not in sampler
    order (unless in_order): a slow batch (large or CPU-only files) holds back its own worker,
    not the others. On the gpu paths each worker decodes on `device`
    (gpu_decode.DecodeOnDevice).
    """
    on_device = getattr(dataset, "decode", None) in GPU_DECODERS
    collate = WorkerClock(DecodeOnDevice(device, dataset.prep, dataset.decode) if on_device else collate_samples)
    return DataLoader(dataset, batch_sampler=WarmUpFirst(list(indices), batch_size, workers), num_workers=workers,
                      pin_memory=device.type == "cuda" and not on_device, collate_fn=collate,
                      multiprocessing_context=cuda_capable_workers() if on_device and workers > 0 else None,
                      persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
                      in_order=in_order, worker_init_fn=collate.worker_init)


class WorkerClock:
    """A collate function that also reports where a worker's time goes: on each batch its stages
    (WorkerBatch.stage_s: the fetch, then the collate's own laps or its whole time), and on the
    worker's first batch where its start-up went.

    worker_init runs first in each worker: one intra-op thread (a worker decodes one image at a
    time; more would oversubscribe the cores), then the collate's own warm_up (a GPU decoder's
    CUDA context, decoder and resize), timed apart from the first batch and step by step.
    """

    def __init__(self, collate):
        self.collate = collate
        self._started_at = self._init_s = None
        self._init_steps = {}

    def worker_init(self, _worker_id: int) -> None:
        self._started_at = time.monotonic()
        torch.set_num_threads(1)
        warm_up = getattr(self.collate, "warm_up", None)
        if warm_up is not None:
            self._init_steps = warm_up()
        self._init_s = time.monotonic() - self._started_at

    def __call__(self, samples):
        started = time.monotonic()
        batch = self.collate(samples)
        ended = time.monotonic()
        collate_s = ended - started
        batch.stage_s = {"fetch": getattr(samples, "fetch_s", 0.0), **(batch.stage_s or {"collate": collate_s})}
        if self._started_at is not None:    # the first batch in this worker
            batch.startup = {"worker_started_at": self._started_at, "worker_init_s": self._init_s,
                             "worker_init_steps": self._init_steps,
                             "first_fetch_s": started - self._started_at - self._init_s,
                             "first_collate_s": collate_s, "first_batch_done_at": ended}
            self._started_at = None
        return batch


# each holds a CUDA context; on an H200 12 and 16 shared the JPEG engines for no gain and started 1.7-3.6 s later
GPU_PATH_WORKERS = 8


def default_workers(decode: str, processes_on_machine: int = 1) -> int:
    """The original's 4 for the PIL path; every core but the main process's for the cpu path;
    up to GPU_PATH_WORKERS for the gpu paths. Under torchrun the machine's ranks share its cores."""
    if decode == "pil":
        return 4
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores //= processes_on_machine
    return max(min(cores - 1, cores if decode == "cpu" else GPU_PATH_WORKERS), 1)


def synthetic_batch(batch_size: int, device, dtype=torch.float32, seed: int = 0, size: int = 224):
    """Random normal images (never zeros: they can run faster than real data), made on the device that
    uses them: a batch too big for it fails there at once, not after filling the host's memory."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(batch_size, 3, size, size, generator=generator, device=device, dtype=dtype)


def input_batch(data: DataChoice, transforms, batch_size: int, seed: int) -> torch.Tensor:
    """One batch to analyse: seeded real images when there is a dataset, random ones otherwise."""
    if data.synthetic:
        return synthetic_batch(batch_size, "cpu", seed=seed)
    dataset = open_dataset(data.root, transforms)
    chosen = choose_indices(len(dataset), batch_size, seed)
    return images_at(dataset, (chosen * (batch_size // len(chosen) + 1))[:batch_size])  # small sets repeat
