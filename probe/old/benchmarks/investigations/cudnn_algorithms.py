#!/usr/bin/env python3
"""How many cuDNN algorithms the search tries, and what AlexNet's conv2-conv5 then run.

With torch.backends.cudnn.benchmark on, PyTorch times at most torch.backends.cudnn.benchmark_limit
of cuDNN's candidate algorithms (10 by default; 0 tries them all) on a layer's first call and keeps
the fastest. In the compiled model's kernel table at batch 4096 (conv1_blocks call 2), conv2 ran a
256x64x32 kernel at 2,683 us, about 690 TFLOP/s in bf16, while conv3-conv5 ran at about 800. This
builds conv2-conv5 as the rewrite runs them (bias moved past the pool where one follows; conv3 and
conv4 with cuDNN's fused bias and ReLU), searches with the given limit, and prints each layer's
first-call seconds, do_bench time, TFLOP/s and kernel. Run once per limit: the choice is cached
per process.
Usage: python benchmarks/investigations/cudnn_algorithms.py --limit 0 [--batch-size 4096]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.rewrites import ConvReLU  # noqa: E402

# name: (in, out, kernel, padding, input size, fused ReLU)
LAYERS = {"conv2": (64, 192, 5, 2, 27, False), "conv3": (192, 384, 3, 1, 13, True),
          "conv4": (384, 256, 3, 1, 13, True), "conv5": (256, 256, 3, 1, 13, False)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, required=True, help="torch.backends.cudnn.benchmark_limit")
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.benchmark_limit = args.limit
    torch.manual_seed(0)
    result = {"limit": args.limit, "batch_size": args.batch_size, "cudnn": torch.backends.cudnn.version(),
              "layers": {}}
    with torch.inference_mode():
        for name, (c_in, c_out, kernel, padding, size, relu) in LAYERS.items():
            conv = torch.nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=relu)
            layer = (ConvReLU.fused(conv) if relu else conv).cuda().to(torch.bfloat16, memory_format=torch.channels_last)
            x = torch.randn(args.batch_size, c_in, size, size, device="cuda", dtype=torch.bfloat16)
            x = x.contiguous(memory_format=torch.channels_last)
            started = time.perf_counter()
            layer(x)
            torch.cuda.synchronize()
            first_s = time.perf_counter() - started
            ms = do_bench(lambda: layer(x))
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                layer(x)
                torch.cuda.synchronize()
            names = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
            flop = 2 * args.batch_size * size * size * c_out * c_in * kernel * kernel
            result["layers"][name] = {"first_call_s": round(first_s, 2), "ms": round(ms, 4),
                                      "tflop_per_s": round(flop / ms / 1e9, 1), "kernels": names}
            print(name, result["layers"][name], flush=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
