"""Timing that cannot lie: synchronized, warm-up excluded (metrics.latency_stats gives percentiles).

On CUDA each timed region is a pair of CUDA events recorded on the stream, read only after one
synchronize at the end (as triton's do_bench does), so timing never stalls the pipeline. Elsewhere
the device is synchronized around a perf_counter reading (timm's benchmark does the same).
"""

import time

import torch

from .device import synchronize


def clock_name(device: torch.device) -> str:
    """How RegionTimer measures on this device, for the result files."""
    return "cuda events" if device.type == "cuda" else "perf_counter after device synchronize"


class RegionTimer:
    """Times a sequence of regions (start()/stop() pairs) on one device."""

    def __init__(self, device: torch.device):
        self.device = device
        self._cuda = device.type == "cuda"
        self._pairs = []
        self._host_ms = []
        self._t0 = None

    def start(self) -> None:
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._pairs.append([event, None])
        else:
            synchronize(self.device)
            self._t0 = time.perf_counter()

    def stop(self) -> None:
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._pairs[-1][1] = event
        else:
            synchronize(self.device)
            self._host_ms.append((time.perf_counter() - self._t0) * 1e3)

    def times_ms(self) -> list:
        if self._cuda:
            synchronize(self.device)
            return [start.elapsed_time(end) for start, end in self._pairs]
        return list(self._host_ms)


def time_calls(fn, device: torch.device, iterations: int, warmup: int) -> list:
    """Milliseconds of each of `iterations` calls of fn(), after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    timer = RegionTimer(device)
    for _ in range(iterations):
        timer.start()
        fn()
        timer.stop()
    return timer.times_ms()
