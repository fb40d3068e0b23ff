"""What a loader worker hands the main process for one batch, and how it becomes model input."""

import zlib
from dataclasses import dataclass, field

import torch

from .errors import UserError
from .preprocess import Preprocess


@dataclass
class BadImage:
    """Stands in for an image that could not be read or decoded, so the main process can name it."""
    path: str
    reason: str


def undecodable(bad: BadImage, hint: str = "") -> UserError:
    return UserError(f"cannot decode image {bad.path} ({bad.reason}){hint}")


def read_encoded(path: str) -> bytes:
    """A file's bytes for a GPU decoder, read in a loader worker; an empty file is an OSError."""
    with open(path, "rb") as file:
        data = file.read()
    if not data:
        raise OSError("empty file")
    return data


def decoded_on_gpu(index: int, gpu_share: float) -> bool:
    """A fixed, well-spread choice of which images the GPU decodes."""
    return zlib.crc32(index.to_bytes(8, "little")) % 1000 < gpu_share * 1000


@dataclass
class WorkerBatch:
    """One batch as a loader worker returns it: CPU-decoded crops, files left for the GPU, failures.

    Every sample has a slot (its place in the batch); crops and files carry their slots so the
    device side can put the batch back in order. crops are uint8 on the cpu and gpu paths,
    normalized float on the PIL path.
    """
    labels: list = field(default_factory=list)            # of every slot
    crops: torch.Tensor = None
    crop_slots: list = field(default_factory=list)
    encoded: torch.Tensor = None       # the GPU's files back to back, one buffer for one pinned copy
    encoded_sizes: list = field(default_factory=list)
    encoded_slots: list = field(default_factory=list)
    encoded_paths: list = field(default_factory=list)
    bad: list = field(default_factory=list)               # BadImage entries
    cpu_fallback: int = 0     # files no GPU decoder takes (CMYK, progressive ...), decoded on the CPU instead
    startup: dict = None      # on a worker's first batch: where its start-up went (data.StartupClock)

    def pin_memory(self):
        if self.crops is not None:
            self.crops = self.crops.pin_memory()
        if self.encoded is not None:
            self.encoded = self.encoded.pin_memory()    # nvJPEG took pinned input 7-32% faster on an H200
        return self


def collate_samples(samples) -> WorkerBatch:
    """Samples are (kind, payload, label): kind "crop", "fallback" (a crop decoded on the CPU because
    no GPU decoder takes the file), "encoded" (payload: (path, bytes)) or "bad" (payload: BadImage)."""
    batch = WorkerBatch()
    crops, files = [], []
    for slot, (kind, payload, label) in enumerate(samples):
        batch.labels.append(label)
        if kind in ("crop", "fallback"):
            crops.append(payload)
            batch.crop_slots.append(slot)
            batch.cpu_fallback += kind == "fallback"
        elif kind == "encoded":
            path, data = payload
            files.append(data)
            batch.encoded_sizes.append(len(data))
            batch.encoded_slots.append(slot)
            batch.encoded_paths.append(path)
        else:
            batch.bad.append(payload)
    if crops:
        batch.crops = torch.stack(crops)
    if files:
        batch.encoded = torch.frombuffer(bytearray().join(files), dtype=torch.uint8)
    return batch


class DeviceFeeder:
    """Turns WorkerBatches into normalized float batches on the device, in batch order.

    With a GPU decoder (gpu_decode.GpuDecoderPool) the batch's encoded files are decoded and
    resized there; a file that decoder still refuses is decoded on the CPU here, or named as bad.
    """

    def __init__(self, device: torch.device, prep: Preprocess, normalized_crops: bool, gpu_decoders=None):
        self.device, self.prep, self.normalized_crops = device, prep, normalized_crops
        self.gpu_decoders = gpu_decoders
        self.mean = torch.tensor(prep.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(prep.std, device=device).view(1, 3, 1, 1) * 255

    def __call__(self, batch: WorkerBatch, decoder_index: int = 0) -> tuple:
        """(images float32 normalized on the device, labels on the device), or (None, None)."""
        parts, slots = [], []
        if batch.crops is not None:
            parts.append(batch.crops.to(self.device, non_blocking=True))
            slots += batch.crop_slots
        if batch.encoded is not None:
            crops, decoded_slots = self.gpu_decoders.crops(batch, decoder_index)
            if crops is not None:
                parts.append(crops)
                slots += decoded_slots
        if not parts:
            return None, None
        crops = torch.cat(parts) if len(parts) > 1 else parts[0]
        order = sorted(range(len(slots)), key=slots.__getitem__)
        if order != list(range(len(slots))):
            crops = crops[torch.tensor(order).to(self.device, non_blocking=True)]
        labels = [batch.labels[slots[i]] for i in order]
        images = crops if self.normalized_crops else (crops.float() - self.mean) / self.std
        return images, torch.tensor(labels, dtype=torch.long).to(self.device, non_blocking=True)
