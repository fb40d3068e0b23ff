"""Batches prepared ahead of the model: a background thread takes them from the loader and normalizes them."""

import contextlib
import queue
import threading
import time
from dataclasses import dataclass

import torch

from .batches import DeviceFeeder


@dataclass(frozen=True)
class PrepareTimes:
    """Seconds the prepare thread spent on one batch: waiting for the loader, then copying and normalizing."""
    loader_wait_s: float
    prepare_s: float


class Prefetcher:
    """Prepares batches in a background thread, up to `depth` batches ahead of the model.

    The thread takes batches from the loader (whose workers decode them) and normalizes them on a
    CUDA stream of its own, so the next batch's preparation overlaps the model's forward. Yields
    (images, labels, the WorkerBatch they came from, PrepareTimes).
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
                    worker_batch = next(batches, None)
                    if worker_batch is None:
                        break
                    loaded = time.perf_counter()
                    images, labels = self.feeder(worker_batch)
                    event = None
                    if self._stream is not None and images is not None:
                        event = torch.cuda.Event()
                        event.record(self._stream)
                    times = PrepareTimes(loaded - started, time.perf_counter() - loaded)
                    if not self._put((images, labels, worker_batch, event, times)):
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
                images, labels, worker_batch, event, times = item
                if event is not None:   # the model's stream waits for this batch, the host does not
                    current = torch.cuda.current_stream(self.device)
                    current.wait_event(event)
                    images.record_stream(current)
                    labels.record_stream(current)
                yield images, labels, worker_batch, times
        finally:
            self._stop.set()
            self._thread.join()
