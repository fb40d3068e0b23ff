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


PREFETCH_THREADS = 2


class Prefetcher:
    """Prepares batches in background threads, up to `depth` batches ahead of the model.

    Each thread takes batches from the loader (whose workers decode them) and normalizes them on
    a CUDA stream of its own, so batch preparation overlaps the model's forward; two threads let
    one receive a batch while the other normalizes the one before. Yields (images, labels, the WorkerBatch
    they came from, PrepareTimes), in loader order.
    """

    def __init__(self, loader, feeder: DeviceFeeder, depth: int = 4, threads: int = PREFETCH_THREADS):
        self.loader, self.feeder, self.device = loader, feeder, feeder.device
        self._ready = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._batches, self._taken = None, 0
        self._threads = [threading.Thread(target=self._prepare, args=(index,), name=f"prefetch-{index}", daemon=True)
                         for index in range(threads)]

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _next_batch(self) -> tuple:
        with self._lock:      # a DataLoader iterator is not thread-safe
            self._taken += 1
            return self._taken - 1, next(self._batches, None)

    def _prepare(self, index: int) -> None:
        cuda = self.device.type == "cuda"
        stream = torch.cuda.Stream(self.device) if cuda else None
        try:
            with torch.inference_mode(), torch.cuda.stream(stream) if cuda else contextlib.nullcontext():
                while not self._stop.is_set():
                    started = time.perf_counter()
                    sequence, worker_batch = self._next_batch()
                    if worker_batch is None:
                        break
                    loaded = time.perf_counter()
                    images, labels = self.feeder(worker_batch)
                    event = None
                    if cuda and images is not None:
                        event = torch.cuda.Event()
                        event.record(stream)
                    times = PrepareTimes(loaded - started, time.perf_counter() - loaded)
                    if not self._put((sequence, (images, labels, worker_batch, event, times))):
                        return
        except BaseException as error:   # handed on to the consumer, which raises it
            self._put(error)
            return
        self._put(None)

    def __iter__(self):
        self._batches = iter(self.loader)
        for thread in self._threads:
            thread.start()
        finished, pending, expected = 0, {}, 0
        try:
            while finished < len(self._threads):
                item = self._ready.get()
                if item is None:
                    finished += 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                pending[item[0]] = item[1]
                while expected in pending:      # in loader order, whichever thread finished first
                    images, labels, worker_batch, event, times = pending.pop(expected)
                    expected += 1
                    if event is not None:   # the model's stream waits for this batch, the host does not
                        current = torch.cuda.current_stream(self.device)
                        current.wait_event(event)
                        images.record_stream(current)
                        labels.record_stream(current)
                    yield images, labels, worker_batch, times
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join()
