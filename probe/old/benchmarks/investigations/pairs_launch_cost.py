#!/usr/bin/env python3
"""Why conv1's pairs form loses in eager below batch 256: the host time of each step of its launch.

Eager, at batch 16, the rewrite's forward took 0.874 ms with conv1 in the pairs form against 0.543
in the space-to-depth form (rewrite_variants.py), while compiled and graphed it won. This times on
the host (perf_counter over many calls, the device drained before and after) conv1 alone in each
form, and the pairs form's layers of launch: the custom op through torch.ops, the Python function
it wraps, and a second call of the Triton kernel with the same arguments.
Usage: python benchmarks/investigations/pairs_launch_cost.py [--batch-size 16] [--calls 2000]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d  # noqa: E402


def host_us(fn, calls: int) -> dict:
    """Mean host time per call (launches only, nothing waits), and per call with the device drained."""
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    launched = time.perf_counter()
    torch.cuda.synchronize()
    drained = time.perf_counter()
    return {"host_us_per_call": (launched - started) / calls * 1e6,
            "until_drained_us_per_call": (drained - started) / calls * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 64, 11, 4, 2, bias=False).to("cuda", torch.bfloat16)
    layer = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    x = torch.randn(args.batch_size, 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(
        memory_format=torch.channels_last)
    geometry = (4, 11, 11, 2, 2, 55, 55, 64)
    space_to_depth = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    space_to_depth._why_not_pairs = lambda x: "space-to-depth asked"
    steps = {
        "layer, pairs form": lambda: layer(x),
        "layer, space-to-depth form": lambda: space_to_depth(x),
        "torch.ops.cnnbench.conv_pairs": lambda: torch.ops.cnnbench.conv_pairs(x, layer.pair_weight, None, *geometry,
                                                                               False),
        "kernels.conv_pairs (no custom op)": lambda: kernels.conv_pairs(x, layer.pair_weight, None, *geometry),
        "the form check alone (_why_not_pairs)": lambda: layer._why_not_pairs(x),
        "torch.empty of the output alone": lambda: torch.empty((args.batch_size, 55, 55, 64), device="cuda",
                                                               dtype=torch.bfloat16),
    }
    result = {"batch_size": args.batch_size, "calls": args.calls, "torch": torch.__version__,
              "triton": kernels.triton.__version__, "device": torch.cuda.get_device_name()}
    with torch.inference_mode():
        for name, fn in steps.items():
            result[name] = host_us(fn, args.calls)
            print(name, json.dumps(result[name]), flush=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
