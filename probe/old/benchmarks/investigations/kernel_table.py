#!/usr/bin/env python3
"""Where a compiled or graphed forward spends its device time, kernel by kernel.

alexnet_profiler.py attributes time to layers through forward hooks, which torch.compile fuses
away; this script times the forward as it really runs (eager, compiled, and/or replayed as a CUDA
graph) with a plain CUDA-event loop, then lists its kernels from one profiled pass of 5 forwards
and how long that pass spans per forward (kernels plus the gaps between them). The timing runs
before and apart from the profiling.
"""

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plain_loop import add_model_arguments, build, graphed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_arguments(parser, batch_size=1)
    parser.add_argument("--cuda-graphs", action="store_true")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    forward, x = build(args)
    with torch.inference_mode():
        started = time.perf_counter()
        forward(x)
        torch.cuda.synchronize()
        first_call_s = time.perf_counter() - started
        run = graphed(forward, x) if args.cuda_graphs else (lambda: forward(x))
        for _ in range(20):
            run()
        torch.cuda.synchronize()
        times_ms = []
        for _ in range(args.iterations):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            times_ms.append(start.elapsed_time(end))
        times_ms.sort()
        p50 = times_ms[len(times_ms) // 2]
        print(json.dumps({**vars(args), "first_call_s": round(first_call_s, 2), "p50_ms": round(p50, 4),
                          "min_ms": round(times_ms[0], 4), "images_per_second": round(args.batch_size / p50 * 1e3)}))
        steps = 5
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                run()
            torch.cuda.synchronize()
    per_kernel = defaultdict(lambda: [0, 0.0])
    kernels = [event for event in prof.events() if event.device_type == torch.autograd.DeviceType.CUDA]
    for event in kernels:
        per_kernel[event.name][0] += 1
        per_kernel[event.name][1] += event.device_time
    total = sum(t for _, t in per_kernel.values()) / steps
    # the profiled forwards run back to back: their span less their kernels' time is the gaps between kernels
    span = (max(event.time_range.end for event in kernels) - min(event.time_range.start for event in kernels)) / steps
    print(f"kernel time per forward {total:.1f} us in {sum(n for n, _ in per_kernel.values()) / steps:.0f} kernels; "
          f"the profiled forwards span {span:.1f} us each")
    for name, (calls, time_us) in sorted(per_kernel.items(), key=lambda kv: -kv[1][1])[:args.top]:
        print(f"{time_us / steps:9.1f} us {100 * time_us / steps / total:5.1f}%  x{calls / steps:<3.0f} {name[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
