#!/usr/bin/env python3
"""The Triton max-pool kernel's tile shapes against inductor's fused pool, bias and ReLU, at batch 1
and at 4096, on AlexNet's pools in the product's layouts (pool1 of batch 1's space-to-depth form,
pool2 channels_last out, pool5 in the classifier's flatten order).

At batch 4096 the kernel (32 pixels x 64 channels, 4 warps) beat inductor's in the compiled forward
(pools_bias_relu call 1); at batch 1 the forward's p50 was 0.081 ms against 0.080 with inductor's
pools, within the spread between machines. Each pool is timed as a CUDA graph of 50 calls, replayed
20 times (so launches do not count), per call; every output is checked against PyTorch's steps.
Usage: python benchmarks/investigations/pool_tiles.py [--precision fp16]
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402

TILES = ((32, 64, 4), (16, 64, 2), (8, 64, 1), (16, 32, 1), (8, 128, 2), (64, 64, 4), (32, 128, 4), (64, 32, 4))
POOLS = {"pool1": (64, 55, False), "pool2": (192, 27, False), "pool5": (256, 13, True)}   # channels, size, flatten
CALLS, REPLAYS = 50, 20


def per_call_us(run) -> float:
    run()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(CALLS):
            run()
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(REPLAYS):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1e3 / (CALLS * REPLAYS)


def triton_pool(x, bias, flatten, tile):
    """The product's pool, bias and ReLU kernel with the given (pixels, channels, warps) tile, NCHW-shaped
    like the steps it is checked against."""
    y = kernels.max_pool_nhwc(x, (3, 3), (2, 2), bias, True, flatten, tile=tile)
    return y if flatten else y.permute(0, 3, 1, 2)


def steps(x, bias, flatten):
    y = F.relu(F.max_pool2d(x, 3, 2) + bias.view(1, -1, 1, 1))
    return torch.flatten(y, 1) if flatten else y


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", choices=("fp16", "bf16"), default="fp16")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4096])
    args = parser.parse_args()
    dtype = torch.float16 if args.precision == "fp16" else torch.bfloat16
    inductor = torch.compile(steps, dynamic=False)
    for batch in args.batch_sizes:
        for name, (channels, size, flatten) in POOLS.items():
            x = torch.randn(batch, channels, size, size, device="cuda", dtype=dtype).contiguous(
                memory_format=torch.channels_last)
            bias = torch.randn(channels, device="cuda", dtype=dtype)
            expected = steps(x, bias, flatten)
            assert torch.equal(inductor(x, bias, flatten), expected)
            row = [f"inductor {per_call_us(lambda: inductor(x, bias, flatten)):7.2f}"]
            for tile in TILES:
                got = triton_pool(x, bias, flatten, tile)
                assert torch.equal(torch.flatten(got, 1) if flatten else got, expected), (name, tile)
                us = per_call_us(lambda: triton_pool(x, bias, flatten, tile))
                row.append("{}x{}/{} {:7.2f}".format(*tile, us))
            print(f"batch {batch:>5} {name}: " + "  ".join(row) + " us", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
