#!/usr/bin/env python3
"""What the way a loop is timed adds to a fast forward: the same Runner, three clocks, alternating.

- pairs: the benchmark's own (timing.RegionTimer), an event before and after each forward;
- laps: one event after each forward, each batch timed from the end of the one before;
- whole: one event pair around all the forwards (as benchmarks/plain_loop.py), a mean only.
Each with and without the benchmark's progress bar; host/iter is the loop's host time per
forward, which must stay under the device's for the clocks to see the device alone.
Usage: timing_methods.py [--batch-size 1] [--precision fp16] [--iterations 2000] [--rounds 3]
(channels_last, --rewrite, compiled, one CUDA graph: the batch-1 target's form; random weights).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.data import synthetic_batch  # noqa: E402
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import Mode, Runner  # noqa: E402
from cnnbench.timing import RegionTimer  # noqa: E402


def pairs(run, steps, device):
    timer = RegionTimer(device)
    started = time.perf_counter()
    for _ in steps:
        timer.start()
        run()
        timer.stop()
    host_s = time.perf_counter() - started
    return timer.times_ms(), host_s


def laps(run, steps, device):
    events = [torch.cuda.Event(enable_timing=True)]
    events[0].record()
    started = time.perf_counter()
    for _ in steps:
        run()
        events.append(torch.cuda.Event(enable_timing=True))
        events[-1].record()
    host_s = time.perf_counter() - started
    torch.cuda.synchronize(device)
    return [start.elapsed_time(end) for start, end in zip(events, events[1:])], host_s


def whole(run, steps, device):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    started = time.perf_counter()
    for _ in steps:
        run()
    end.record()
    host_s = time.perf_counter() - started
    torch.cuda.synchronize(device)
    return [start.elapsed_time(end) / len(steps)], host_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--precision", default="fp16", choices=("fp16", "bf16"))
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda")
    mode = Mode(args.precision, True, "compile+cuda-graphs", "default", False, True)
    runner = Runner(load_model("alexnet", "none").model, mode, device)
    images = synthetic_batch(args.batch_size, "cpu")
    runner.warm_up(images, 20)
    runner.load(images)
    clocks = {"pairs": pairs, "laps": laps, "whole": whole}
    with torch.inference_mode():
        for round_index in range(args.rounds):
            for (name, clock), bar in ((item, bar) for item in clocks.items() for bar in (True, False)):
                steps = tqdm(range(args.iterations), disable=not bar, leave=False)
                torch.cuda.synchronize(device)
                times, host_s = clock(runner.run, steps, device)
                host_us = host_s / args.iterations * 1e6
                p50 = statistics.median(times) * 1e3
                print(f"round {round_index} {name}{' +bar' if bar else ''}: p50 {p50:.2f} us, mean "
                      f"{statistics.fmean(times) * 1e3:.2f} us, host/iter {host_us:.2f} us", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
