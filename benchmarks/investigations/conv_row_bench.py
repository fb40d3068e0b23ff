#!/usr/bin/env python3
"""Each of AlexNet's batch-1 stride-1 convolutions (fp16, channels_last) timed in CUDA graphs: cuDNN
against kernels.conv_row, autotuned and in every config, with the largest difference and whether
repeated calls agree bit for bit. Usage: python benchmarks/investigations/conv_row_bench.py"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402

torch.manual_seed(0)
dev = "cuda"
torch.backends.cudnn.benchmark = True
shapes = [("conv2", 64, 27, 192, 5, 2, False), ("conv3", 192, 13, 384, 3, 1, True),
          ("conv4", 384, 13, 256, 3, 1, True), ("conv5", 256, 13, 256, 3, 1, False)]

def graph_time(fn, reps=20, rounds=5):
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps): fn()
    times = []
    for _ in range(rounds):
        a, b = torch.cuda.Event(True), torch.cuda.Event(True)
        a.record(); [g.replay() for _ in range(10)]; b.record(); torch.cuda.synchronize()
        times.append(a.elapsed_time(b) * 1000 / (10 * reps))
    return sorted(times)[len(times)//2]

total = {"cudnn": 0, "auto": 0}
for name, c, size, n, k, pad, relu in shapes:
    x = torch.randn(1, c, size, size, device=dev, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
    w = (torch.randn(n, c, k, k, device=dev, dtype=torch.float16) / (c*k*k) ** 0.5).contiguous(memory_format=torch.channels_last)
    b = torch.randn(n, device=dev, dtype=torch.float16) if relu else None
    counters = torch.zeros(kernels.COUNTERS, dtype=torch.int32, device=dev)
    if relu:
        ref_fn = lambda: torch.cudnn_convolution_relu(x, w, b, [1, 1], [pad, pad], [1, 1], 1)
    else:
        ref_fn = lambda: F.conv2d(x, w, None, padding=pad)
    ref = ref_fn()
    got = kernels.conv_row(x, w, b, counters, (pad, pad), relu)
    torch.cuda.synchronize()
    err = (got.float() - ref.float()).abs().max().item()
    best = {kk: v for kk, v in kernels._conv_row_kernel.cache.items()}
    t_ref = graph_time(ref_fn)
    t_auto = graph_time(lambda: kernels.conv_row(x, w, b, counters, (pad, pad), relu))
    total["cudnn"] += t_ref; total["auto"] += t_auto
    print(f"{name}: cudnn {t_ref:.2f} us  conv_row(auto) {t_auto:.2f} us  maxdiff {err:.4g} scale {ref.abs().max().item():.3g} counters_zero {int(counters.abs().sum())==0}")
    for config in kernels.CONV_CONFIGS:
        t = graph_time(lambda: kernels.conv_row(x, w, b, counters, (pad, pad), relu, config))
        print(f"    {config.kwargs} {t:.2f} us")
    # repeat-consistency: many graph replays give same result
    outs = [kernels.conv_row(x, w, b, counters, (pad, pad), relu) for _ in range(50)]
    print("    deterministic:", all(torch.equal(o, outs[0]) for o in outs))
print("chosen:", {str(k): str(v) for k, v in kernels._conv_row_kernel.cache.items()})
print("total", total)
