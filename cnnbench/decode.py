"""Decode paths for real JPEGs: PIL (the original), torchvision.io on CPU workers, nvJPEG on the GPU.

All three reproduce the weights' own eval transform (resize the short side with antialiased
bilinear, centre crop, normalize). The cpu path decodes with torchvision.io and resamples only the
kept crop; the cpu and gpu paths hand uint8 crops to the device and normalize there, so four times
fewer bytes cross PCIe than float images would.
On the GPU path the loader workers do the decoding on the GPU: each reads its batch's files into
one buffer, decodes them with batched nvJPEG (a share can be left to libjpeg-turbo on its core)
and resizes same-sized images together in one call; the main process receives uint8 crops
already on the device. The Prefetcher takes batches from the loader and normalizes them in a
background thread, overlapped with the model.
"""

import contextlib
import queue
import threading
import time
import warnings
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import torch
import torchvision.io as tvio
import torchvision.transforms.functional as TF

from .cli import UserError

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec; they still work, and this
# project supports torchvision versions without TorchCodec, so the per-call warning is silenced.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision")

DECODERS = ("pil", "cpu", "gpu")
GPU_SHARE = 1.0   # of each batch decoded with nvJPEG; the rest by libjpeg-turbo in the same worker


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
    """(N,3,H,W) images of one size -> (N,3,crop,crop) centre crops, as the weights' transform.

    uint8 images come back uint8, rounded as PIL rounds its resize."""
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


@dataclass(frozen=True)
class PrepareTimes:
    """Seconds the prepare thread spent on one batch: waiting for the loader, then copying and normalizing."""
    loader_wait_s: float
    prepare_s: float


def read_encoded(path: str) -> bytes:
    """A file's bytes for nvJPEG, read in a loader worker; an empty file is an OSError."""
    with open(path, "rb") as file:
        data = file.read()
    if not data:
        raise OSError("empty file")
    return data


@dataclass
class HostBatch:
    """What a loader worker returns: decoded crops, files left for the GPU, labels, and what failed."""
    crops: torch.Tensor = None          # (N,3,h,w): uint8 (cpu/gpu paths) or normalized float (pil)
    crop_labels: list = field(default_factory=list)
    crop_positions: list = field(default_factory=list)   # where each sample stood in the batch
    # the GPU share's files, back to back in one uint8 tensor: one shared-memory block per batch
    encoded: torch.Tensor = None
    encoded_sizes: list = field(default_factory=list)
    encoded_paths: list = field(default_factory=list)
    encoded_labels: list = field(default_factory=list)
    encoded_positions: list = field(default_factory=list)
    bad: list = field(default_factory=list)          # BadImage entries

    def pin_memory(self):
        if self.crops is not None:
            self.crops = self.crops.pin_memory()
        return self


def collate_host(samples) -> HostBatch:
    """Samples are ("crop", tensor, label), ("encoded", (path, bytes), label) or ("bad", BadImage, label)."""
    batch = HostBatch()
    crops, files = [], []
    for position, sample in enumerate(samples):
        kind = sample[0]
        if kind == "crop":
            crops.append(sample[1])
            batch.crop_labels.append(sample[2])
            batch.crop_positions.append(position)
        elif kind == "encoded":
            path, data = sample[1]
            files.append(data)
            batch.encoded_sizes.append(len(data))
            batch.encoded_paths.append(path)
            batch.encoded_labels.append(sample[2])
            batch.encoded_positions.append(position)
        else:
            batch.bad.append(sample[1])
    if crops:
        batch.crops = torch.stack(crops)
    if files:
        batch.encoded = torch.frombuffer(bytearray().join(files), dtype=torch.uint8)
    return batch


class DecodeOnDevice:
    """The gpu path's collate_fn, run in each loader worker.

    The batch's encoded files go through batched nvJPEG on the device, same-sized images are
    resized and centre-cropped together there, and the uint8 crops come back merged with the CPU
    share's in batch order, as device tensors (CUDA IPC). torchvision serializes nvJPEG calls
    within a process and spends 50-80 us of host CPU per image on them, so one decoding process
    tops out near 12-21k images/s; every worker has its own decoder, and the workers decode in
    parallel (28.6k images/s from 8 processes on an H200). Workers that use CUDA can't be
    forked from a CUDA process: data.make_loader starts them from a fork server.
    """

    def __init__(self, device, prep: Preprocess):
        self.device, self.prep = torch.device(device), prep

    def _decode(self, files: list, paths: list) -> tuple:
        """Batched nvJPEG; on failure, one image at a time so the bad one can be named."""
        try:
            return tvio.decode_jpeg(files, device=self.device, mode=tvio.ImageReadMode.RGB), []
        except RuntimeError:
            pass
        images, bad = [], []
        for data, path in zip(files, paths):
            try:
                images.append(tvio.decode_jpeg(data, device=self.device, mode=tvio.ImageReadMode.RGB))
            except RuntimeError:
                try:  # formats nvJPEG does not take (CMYK, PNG) go through the CPU decoder
                    images.append(decode_on_cpu(data).to(self.device))
                except RuntimeError as error:
                    images.append(None)
                    bad.append(BadImage(path, str(error).splitlines()[0]))
        return images, bad

    def crops(self, files: list, paths: list) -> tuple:
        """(uint8 crops on the device, the input position of each crop, BadImages) for encoded files."""
        images, bad = self._decode(files, paths)
        by_size = defaultdict(list)
        for position, image in enumerate(images):
            if image is not None:
                by_size[tuple(image.shape[-2:])].append(position)
        crops, order = [], []
        for positions in by_size.values():   # one resize per distinct image size
            stacked = torch.stack([images[p] for p in positions])
            crops.append(resize_and_crop(stacked, self.prep))   # uint8 in, rounded uint8 out, as PIL
            order += positions
        return (torch.cat(crops) if crops else None), order, bad

    def __call__(self, samples) -> HostBatch:
        batch = collate_host(samples)
        if not batch.encoded_sizes:
            return batch
        encoded = batch.encoded
        if self.device.type == "cuda":
            encoded = encoded.pin_memory()   # nvJPEG took it 7-32% faster so in two of three H200 calls
        crops, order, bad = self.crops(list(torch.split(encoded, batch.encoded_sizes)), batch.encoded_paths)
        parts, labels, positions = [], [], []
        if batch.crops is not None:
            parts.append(batch.crops.to(self.device))
            labels += batch.crop_labels
            positions += batch.crop_positions
        if crops is not None:
            parts.append(crops)
            labels += [batch.encoded_labels[p] for p in order]
            positions += [batch.encoded_positions[p] for p in order]
        decoded = HostBatch(bad=batch.bad + bad)
        if parts:
            in_batch_order = sorted(range(len(positions)), key=positions.__getitem__)
            decoded.crops = torch.cat(parts)[torch.tensor(in_batch_order, device=self.device)]
            decoded.crop_labels = [labels[i] for i in in_batch_order]
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()   # complete before another process reads it
        return decoded


class DeviceFeeder:
    """Turns HostBatches of crops into normalized float batches on the device."""

    def __init__(self, device: torch.device, prep: Preprocess, normalized_crops: bool):
        self.device, self.normalized_crops = device, normalized_crops
        self.mean = torch.tensor(prep.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(prep.std, device=device).view(1, 3, 1, 1) * 255

    def __call__(self, batch: HostBatch) -> tuple:
        """(images float32 normalized on the device, labels on the device), or (None, None)."""
        if batch.crops is None:
            return None, None
        crops = batch.crops.to(self.device, non_blocking=True)
        images = crops if self.normalized_crops else (crops.float() - self.mean) / self.std
        return images, torch.tensor(batch.crop_labels, dtype=torch.long).to(self.device, non_blocking=True)


class Prefetcher:
    """Prepares batches in a background thread, up to `depth` batches ahead of the model.

    The thread takes batches from the loader (whose workers decode them) and normalizes them on a
    CUDA stream of its own, so the next batch's preparation overlaps the model's forward. Yields
    (images, labels, failed images, PrepareTimes).
    """

    def __init__(self, loader, feeder: DeviceFeeder, depth: int = 3):
        self.loader, self.feeder, self.device = loader, feeder, feeder.device
        self._ready = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self._thread = threading.Thread(target=self._prepare, name="prefetch", daemon=True)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _prepare(self) -> None:
        stream = torch.cuda.stream(self._stream) if self._stream is not None else contextlib.nullcontext()
        try:
            with torch.inference_mode(), stream:
                batches = iter(self.loader)
                while not self._stop.is_set():
                    started = time.perf_counter()
                    host_batch = next(batches, None)
                    if host_batch is None:
                        break
                    loaded = time.perf_counter()
                    images, labels = self.feeder(host_batch)
                    event = None
                    if self._stream is not None and images is not None:
                        event = torch.cuda.Event()
                        event.record(self._stream)
                    times = PrepareTimes(loaded - started, time.perf_counter() - loaded)
                    if not self._put((images, labels, host_batch.bad, event, times)):
                        return
        except BaseException as error:   # handed on to the consumer, which raises it
            self._put(error)
            return
        self._put(None)

    def __iter__(self):
        self._thread.start()
        try:
            while True:
                item = self._ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                images, labels, bad, event, times = item
                if event is not None:   # the model's stream waits for this batch, the host does not
                    current = torch.cuda.current_stream(self.device)
                    current.wait_event(event)
                    images.record_stream(current)
                    labels.record_stream(current)
                yield images, labels, bad, times
        finally:
            self._stop.set()
            self._thread.join()


def prediction_agreement(reference: torch.Tensor, logits: torch.Tensor) -> dict:
    """How often one model's top-1 (and top-5) classes agree between two decode paths of the same images.

    Pretrained weights can't be had everywhere, and a random network gives every image nearly
    the same logits: one image-independent part leads, its top-1 is one class for all images,
    and raw top-1 would agree trivially. So each path's logits are first centred on their mean
    over the images, and the classes follow what differs between images; `distinct_classes`
    shows that they do. The comparison is between paths, so any fixed function of the logits serves.
    """
    def top5(values):
        return (values - values.mean(dim=0)).topk(5, dim=1).indices
    ours, theirs = top5(logits), top5(reference)
    return {"images": len(ours), "distinct_classes": theirs[:, 0].unique().numel(),
            "top1_agreement": (ours[:, 0] == theirs[:, 0]).float().mean().item(),
            "top5_agreement": (ours[:, :, None] == theirs[:, None, :]).any(dim=2).float().mean().item()}


def gpu_decode_available(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    try:
        sample = tvio.encode_jpeg(torch.zeros(3, 8, 8, dtype=torch.uint8))
        tvio.decode_jpeg(sample, device=device)
        return True
    except (RuntimeError, TypeError):
        return False
