"""Decode paths for real JPEGs: PIL (the original), torchvision.io on CPU workers, nvJPEG on the GPU.

All three reproduce the weights' own eval transform (resize the short side with antialiased
bilinear, centre crop, normalize). The cpu path decodes with torchvision.io and resamples only the
kept crop; the cpu and gpu paths hand uint8 crops or undecoded bytes to the device and normalize
there, so four times fewer bytes cross PCIe than float images would.
On the GPU path each batch is split: a share of its images is decoded by the CPU workers while
the rest goes through batched nvJPEG, and same-sized images are resized together in one call, so
the workers and the GPU both stay busy. The Prefetcher does the main process's part (reading the
GPU share's files, nvJPEG, resize, normalize) in background threads, overlapped with the model.
"""

import contextlib
import os
import queue
import threading
import time
import warnings
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
import torchvision.io as tvio
import torchvision.transforms.functional as TF

from .cli import UserError

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec; they still work, and this
# project supports torchvision versions without TorchCodec, so the per-call warning is silenced.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision")

DECODERS = ("pil", "cpu", "gpu")
GPU_SHARE = 0.9   # of each batch decoded on the GPU, the rest by CPU workers (best measured on an H200)


@dataclass(frozen=True)
class Preprocess:
    """The eval transform's numbers, from the weights' transforms()."""
    resize_size: int = 256
    crop_size: int = 224
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)

    @classmethod
    def from_transforms(cls, transforms) -> "Preprocess":
        def first(value):
            return value[0] if isinstance(value, (list, tuple)) else value
        return cls(first(getattr(transforms, "resize_size", 256)), first(getattr(transforms, "crop_size", 224)),
                   tuple(getattr(transforms, "mean", cls.mean)), tuple(getattr(transforms, "std", cls.std)))

    def resized_size(self, height: int, width: int) -> tuple:
        """torchvision's resize of the short side to resize_size, long side truncated the same way."""
        short, long = (height, width) if height <= width else (width, height)
        new_long = int(self.resize_size * long / short)
        return (self.resize_size, new_long) if height <= width else (new_long, self.resize_size)


def resize_and_crop(images: torch.Tensor, prep: Preprocess) -> torch.Tensor:
    """(N,3,H,W) float images of one size -> (N,3,crop,crop) centre crops, as the weights' transform."""
    height, width = images.shape[-2:]
    resized = TF.resize(images, list(prep.resized_size(height, width)), antialias=True)
    return TF.center_crop(resized, [prep.crop_size, prep.crop_size])


def crop_box(height: int, width: int, prep: Preprocess) -> tuple:
    """The region of the original image that resize-then-centre-crop keeps, in source pixels."""
    new_height, new_width = prep.resized_size(height, width)
    top = int(round((new_height - prep.crop_size) / 2.0))   # torchvision's center_crop rounding
    left = int(round((new_width - prep.crop_size) / 2.0))
    scale_y, scale_x = height / new_height, width / new_width
    return (left * scale_x, top * scale_y, (left + prep.crop_size) * scale_x, (top + prep.crop_size) * scale_y)


def resize_and_crop_on_cpu(image: torch.Tensor, prep: Preprocess) -> torch.Tensor:
    """uint8 (3,H,W) -> uint8 (3,crop,crop), resampling only the kept region.

    Pillow's resize with a source box filters exactly as the full resize would (same scale, same
    antialiased bilinear kernel) but computes only the 224x224 outputs that the crop keeps. With
    torchvision.io decoding, 2.2 ms per 500x375 JPEG against 3.0 ms for tensor resize + crop and
    3.3 ms for the PIL path (one core of the development machine).
    """
    from PIL import Image

    height, width = image.shape[-2:]
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    crop = pil.resize((prep.crop_size, prep.crop_size), Image.BILINEAR, box=crop_box(height, width, prep))
    return TF.pil_to_tensor(crop)


def decode_on_cpu(data: torch.Tensor) -> torch.Tensor:
    """RGB uint8 (3,H,W) from encoded bytes: libjpeg-turbo for JPEG, else any format torchvision reads."""
    try:
        return tvio.decode_jpeg(data, mode=tvio.ImageReadMode.RGB)
    except RuntimeError:
        return tvio.decode_image(data, mode=tvio.ImageReadMode.RGB)  # PNG, CMYK JPEG ...


def decoded_on_gpu(index: int, gpu_share: float) -> bool:
    """A fixed, well-spread choice of which images the GPU decodes."""
    return zlib.crc32(index.to_bytes(8, "little")) % 1000 < gpu_share * 1000


@dataclass
class BadImage:
    """Stands in for an image that could not be read or decoded, so the main process can name it."""
    path: str
    reason: str


def undecodable(bad: BadImage, hint: str = "") -> UserError:
    return UserError(f"cannot decode image {bad.path} ({bad.reason}){hint}")


@dataclass
class HostBatch:
    """What a loader worker returns: decoded crops, files left for the GPU, labels, and what failed."""
    crops: torch.Tensor = None          # (N,3,h,w): uint8 (cpu/gpu paths) or normalized float (pil)
    crop_labels: list = field(default_factory=list)
    crop_positions: list = field(default_factory=list)   # where each sample stood in the batch
    encoded_paths: list = field(default_factory=list)    # files for nvJPEG, read in the main process
    encoded_labels: list = field(default_factory=list)
    encoded_positions: list = field(default_factory=list)
    bad: list = field(default_factory=list)          # BadImage entries

    def pin_memory(self):
        if self.crops is not None:
            self.crops = self.crops.pin_memory()
        return self


def collate_host(samples) -> HostBatch:
    """Samples are ("crop", tensor, label), ("encoded", path, label) or ("bad", BadImage, label)."""
    batch = HostBatch()
    crops = []
    for position, sample in enumerate(samples):
        kind = sample[0]
        if kind == "crop":
            crops.append(sample[1])
            batch.crop_labels.append(sample[2])
            batch.crop_positions.append(position)
        elif kind == "encoded":
            batch.encoded_paths.append(sample[1])
            batch.encoded_labels.append(sample[2])
            batch.encoded_positions.append(position)
        else:
            batch.bad.append(sample[1])
    if crops:
        batch.crops = torch.stack(crops)
    return batch


def _read_file(path: str) -> tuple:
    """(file contents as a uint8 tensor, None) or (None, BadImage); one copy, the GIL released."""
    try:
        with open(path, "rb", buffering=0) as file:
            data = torch.empty(os.fstat(file.fileno()).st_size, dtype=torch.uint8)
            if data.numel() == 0:
                return None, BadImage(path, "empty file")
            if file.readinto(data.numpy()) != data.numel():
                return None, BadImage(path, "file changed size while being read")
            return data, None
    except OSError as error:
        return None, BadImage(path, str(error) or type(error).__name__)


class DeviceFeeder:
    """Turns HostBatches into normalized float batches on the device."""

    def __init__(self, device: torch.device, prep: Preprocess, normalized_crops: bool):
        self.device, self.prep, self.normalized_crops = device, prep, normalized_crops
        self.mean = torch.tensor(prep.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(prep.std, device=device).view(1, 3, 1, 1) * 255
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="read-jpeg")  # file reads drop the GIL

    def warm_up(self) -> None:
        """Initialise nvJPEG and the resize kernels before any timing."""
        if self.device.type == "cuda":
            sample = tvio.encode_jpeg(torch.randint(0, 255, (3, 300, 400), dtype=torch.uint8))
            self._gpu_crops([sample, sample], ["warm-up", "warm-up"])
            torch.cuda.synchronize(self.device)

    def _gpu_decode(self, encoded: list, paths: list) -> tuple:
        """Batched nvJPEG; on failure, one image at a time so the bad one can be named."""
        try:
            return tvio.decode_jpeg(encoded, device=self.device, mode=tvio.ImageReadMode.RGB), []
        except RuntimeError:
            pass
        images, bad = [], []
        for data, path in zip(encoded, paths):
            try:
                images.append(tvio.decode_jpeg(data, device=self.device, mode=tvio.ImageReadMode.RGB))
            except RuntimeError:
                try:  # formats nvJPEG does not take (CMYK, PNG) go through the CPU decoder
                    images.append(decode_on_cpu(data).to(self.device))
                except RuntimeError as error:
                    images.append(None)
                    bad.append(BadImage(path, str(error).splitlines()[0]))
        return images, bad

    def read(self, batch: HostBatch) -> tuple:
        """The files of the batch's GPU share: (uint8 tensors, indices of the files read, BadImages)."""
        contents, readable, bad = [], [], []
        for index, (path, (data, failure)) in enumerate(zip(batch.encoded_paths,
                                                            self._readers.map(_read_file, batch.encoded_paths))):
            if failure is not None:
                bad.append(failure)
            else:
                contents.append(data)
                readable.append(index)
        return contents, readable, bad

    def _gpu_crops(self, encoded: list, paths: list) -> tuple:
        """(crops float 0..255, the input position of each crop, bad) for the encoded images."""
        images, bad = self._gpu_decode(encoded, paths)
        by_size = defaultdict(list)
        for position, image in enumerate(images):
            if image is not None:
                by_size[tuple(image.shape[-2:])].append(position)
        crops, order = [], []
        for positions in by_size.values():   # one resize per distinct image size
            stacked = torch.stack([images[p] for p in positions]).float()
            crops.append(resize_and_crop(stacked, self.prep))
            order += positions
        return (torch.cat(crops) if crops else None), order, bad

    def __call__(self, batch: HostBatch, files: tuple = None) -> tuple:
        """(images float32 normalized on device in batch order, labels on device, images that failed).

        `files` is what read(batch) returned, when another thread has read them already.
        """
        parts, labels, positions, bad = [], [], [], []
        if batch.crops is not None:
            crops = batch.crops.to(self.device, non_blocking=True)
            parts.append(crops if self.normalized_crops else (crops.float() - self.mean) / self.std)
            labels += batch.crop_labels
            positions += batch.crop_positions
        if batch.encoded_paths:
            encoded, readable, bad = files if files is not None else self.read(batch)
            paths = [batch.encoded_paths[i] for i in readable]
            crops, order, failed = self._gpu_crops(encoded, paths) if encoded else (None, [], [])
            bad += failed
            if crops is not None:
                parts.append((crops - self.mean) / self.std)
                labels += [batch.encoded_labels[readable[p]] for p in order]
                positions += [batch.encoded_positions[readable[p]] for p in order]
        if not parts:
            return None, None, bad
        images = torch.cat(parts) if len(parts) > 1 else parts[0]
        labels = torch.tensor(labels, dtype=torch.long)
        if positions != sorted(positions):  # back to the order the loader gave
            order = torch.tensor(positions).argsort()
            images, labels = images[order.to(self.device)], labels[order]
        return images, labels.to(self.device, non_blocking=True), bad


class Prefetcher:
    """Prepares batches in two background threads, up to `depth` batches ahead of the model.

    One thread takes batches from the loader and reads the files the GPU will decode; the other
    decodes them with nvJPEG, resizes and normalizes on a CUDA stream of its own. File reads and
    nvJPEG release the GIL, so reading, decoding and the model's forward overlap instead of
    alternating. Yields (images, labels, failed images, seconds the decode thread spent on it).
    """

    def __init__(self, loader, feeder: DeviceFeeder, depth: int = 3):
        self.loader, self.feeder, self.device = loader, feeder, feeder.device
        self._read = queue.Queue(maxsize=2)
        self._ready = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self._threads = [threading.Thread(target=self._load, name="prefetch-read", daemon=True),
                         threading.Thread(target=self._prepare, name="prefetch-decode", daemon=True)]

    def _put(self, where: queue.Queue, item) -> bool:
        while not self._stop.is_set():
            try:
                where.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, where: queue.Queue):
        while not self._stop.is_set():
            try:
                return where.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _load(self) -> None:
        try:
            for host_batch in self.loader:
                files = self.feeder.read(host_batch) if host_batch.encoded_paths else None
                if not self._put(self._read, (host_batch, files)):
                    return
        except BaseException as error:   # handed on to the consumer, which raises it
            self._put(self._read, error)
            return
        self._put(self._read, None)

    def _prepare(self) -> None:
        stream = torch.cuda.stream(self._stream) if self._stream is not None else contextlib.nullcontext()
        try:
            with torch.inference_mode(), stream:
                while True:
                    item = self._get(self._read)
                    if item is None or isinstance(item, BaseException):
                        self._put(self._ready, item)
                        return
                    host_batch, files = item
                    started = time.perf_counter()
                    images, labels, failed = self.feeder(host_batch, files)
                    event = None
                    if self._stream is not None and images is not None:
                        event = torch.cuda.Event()
                        event.record(self._stream)
                    if not self._put(self._ready, (images, labels, host_batch.bad + failed, event,
                                                   time.perf_counter() - started)):
                        return
        except BaseException as error:
            self._put(self._ready, error)

    def __iter__(self):
        for thread in self._threads:
            thread.start()
        try:
            while True:
                item = self._ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                images, labels, bad, event, prepare_s = item
                if event is not None:   # the model's stream waits for this batch, the host does not
                    current = torch.cuda.current_stream(self.device)
                    current.wait_event(event)
                    images.record_stream(current)
                    labels.record_stream(current)
                yield images, labels, bad, prepare_s
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join()


def gpu_decode_available(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    try:
        sample = tvio.encode_jpeg(torch.zeros(3, 8, 8, dtype=torch.uint8))
        tvio.decode_jpeg(sample, device=device)
        return True
    except (RuntimeError, TypeError):
        return False
