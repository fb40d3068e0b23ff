"""What a loader worker hands the main process for one batch, and how it becomes model input."""

import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import UserError
from .preprocess import Preprocess


@dataclass
class BadImage:
    """Stands in for an image that could not be read or decoded, so the main process can name it."""
    path: str
    reason: str

    @classmethod
    def from_error(cls, path: str, error: Exception) -> "BadImage":
        return cls(path, str(error).splitlines()[0] if str(error) else type(error).__name__)


def undecodable(bad: BadImage, hint: str = "") -> UserError:
    return UserError(f"cannot decode image {bad.path} ({bad.reason}){hint}")


def read_encoded(path: str) -> torch.Tensor:
    """A file's bytes as uint8, read straight into a new array; an empty file is an OSError."""
    data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
    if not data.numel():
        raise OSError("empty file")
    return data


def decoded_on_gpu(index: int, gpu_share: float) -> bool:
    """A fixed, well-spread choice of which images the GPU decodes."""
    return zlib.crc32(index.to_bytes(8, "little")) % 1000 < gpu_share * 1000


@dataclass
class WorkerBatch:
    """One batch as a loader worker returns it: CPU-decoded crops, files left for the GPU, failures.

    Every sample has a slot (its place in the batch); crops and files carry their slots. crops are
    uint8 on the cpu path, uint8 on the device on the gpu paths (the worker decoded the files there;
    encoded is then empty), normalized float on the PIL path.
    """
    labels: list = field(default_factory=list)            # of every slot
    crops: torch.Tensor = None
    crop_slots: list = field(default_factory=list)
    encoded_paths: list = field(default_factory=list)      # the GPU decoder's files, read by the worker's decoder
    encoded_slots: list = field(default_factory=list)
    cpu_files: list = field(default_factory=list)         # CpuFile entries: the gpu paths' CPU share
    bad: list = field(default_factory=list)               # BadImage entries
    cpu_fallback: int = 0     # files no GPU decoder takes (CMYK, progressive ...), decoded on the CPU instead
    startup: dict = None      # on a worker's first batch: where its start-up went (data.WorkerClock)
    stage_s: dict = None      # seconds the worker spent on this batch, by stage (data.WorkerClock)

    def pin_memory(self):
        if self.crops is not None and self.crops.device.type == "cpu":
            self.crops = self.crops.pin_memory()
        return self


class Laps:
    """Seconds between marks, by stage: where a worker's time on one batch went."""

    def __init__(self):
        self.seconds, self._last = {}, time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


@dataclass
class CpuFile:
    """A file of a gpu-path worker's CPU share (--gpu-decode-share)."""
    slot: int
    path: str
    data: torch.Tensor    # its bytes, uint8


def collate_samples(samples) -> WorkerBatch:
    """Samples are (kind, payload, label): kind "crop", "encoded" (payload: a path, for the GPU
    decoder), "cpu-share" (payload: (path, bytes), for the worker's CPU) or "bad" (payload: BadImage)."""
    batch = WorkerBatch()
    crops = []
    for slot, (kind, payload, label) in enumerate(samples):
        batch.labels.append(label)
        if kind == "crop":
            crops.append(payload)
            batch.crop_slots.append(slot)
        elif kind == "cpu-share":
            batch.cpu_files.append(CpuFile(slot, *payload))
        elif kind == "encoded":
            batch.encoded_paths.append(payload)
            batch.encoded_slots.append(slot)
        else:
            batch.bad.append(payload)
    if crops:
        batch.crops = torch.stack(crops)
    return batch


class DeviceFeeder:
    """Turns WorkerBatches of crops into normalized float batches on the device, in batch order."""

    def __init__(self, device: torch.device, prep: Preprocess, normalized_crops: bool):
        self.device, self.normalized_crops = device, normalized_crops
        self.mean = torch.tensor(prep.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(prep.std, device=device).view(1, 3, 1, 1) * 255

    def __call__(self, batch: WorkerBatch) -> tuple:
        """(images float32 normalized on the device, labels on the device), or (None, None)."""
        if batch.crops is None:
            return None, None
        crops = batch.crops.to(self.device, non_blocking=True)
        images = crops if self.normalized_crops else (crops.float() - self.mean) / self.std
        labels = [batch.labels[slot] for slot in batch.crop_slots]
        return images, torch.tensor(labels, dtype=torch.long).to(self.device, non_blocking=True)
