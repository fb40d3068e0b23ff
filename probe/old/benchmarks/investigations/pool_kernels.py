#!/usr/bin/env python3
"""How far are AlexNet's three max-pools (with the bias and ReLU the rewrite moves after them) from
the copy ceiling, and would a Triton kernel of our own close the gap?

In the compiled rewrite at batch 4096 (kernel table, conv1_persistent call 7) inductor's fused
pool + bias + ReLU kernels take 501, 428 and 216 us: 3.9, 3.3 and 2.0 TB/s over the bytes they
must move (input read once, output written once); the copy ceiling measured on these machines is
about 4.3 TB/s. Eager, ATen's NHWC max-pool and two elementwise kernels are slower still. This
times, for each pool's shape (bf16, channels_last):
- inductor: the pool, bias and ReLU compiled together, as in the compiled model (for the last pool
  also the classifier's flatten, which inductor folds into the same kernel);
- eager: F.max_pool2d, then the bias and ReLU;
- a Triton kernel that takes the max of each window's taps from the NHWC input (16-byte loads along
  the channels, the overlap between windows served by the caches) and adds the bias and ReLU before
  its one write, over a few tile shapes.
Each is checked against eager (bit for bit: the bias is added once to the same max in both).
Usage: python benchmarks/investigations/pool_kernels.py [--batch-size 4096]
"""

import argparse
import functools
import json
import sys

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.testing import do_bench

POOLS = {"pool1": (64, 55), "pool2": (192, 27), "pool5": (256, 13)}     # channels, input size; 3x3, stride 2


@triton.jit
def _pool_bias_relu(x_ptr, b_ptr, y_ptr, pixels, height, width, out_height, out_width, channels,
                    KERNEL: tl.constexpr, STRIDE: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    """relu(max over each KERNEL x KERNEL window + bias) of an NHWC image; a program takes BLOCK_P
    output pixels (over image, row and column) by BLOCK_C channels."""
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    ok = (p < pixels)[:, None] & (c < channels)[None, :]
    column = p % out_width
    row = p // out_width % out_height
    image = (p // out_width // out_height).to(tl.int64)
    first = ((image * height + row * STRIDE) * width + column * STRIDE) * channels
    peak = tl.full((BLOCK_P, BLOCK_C), float("-inf"), tl.float32)
    for i in tl.static_range(KERNEL):
        for j in tl.static_range(KERNEL):
            tap = tl.load(x_ptr + first[:, None] + (i * width + j) * channels + c[None, :], mask=ok,
                          other=float("-inf"))
            peak = tl.maximum(peak, tap.to(tl.float32))
    bias = tl.load(b_ptr + c, mask=c < channels, other=0.0).to(tl.float32)
    out = tl.maximum(peak + bias[None, :], 0.0)
    tl.store(y_ptr + p.to(tl.int64)[:, None] * channels + c[None, :], out.to(y_ptr.dtype.element_ty), mask=ok)


def pool_bias_relu(x, bias, block_p, block_c, warps):
    n, channels, height, width = x.shape
    out_size = (height - 3) // 2 + 1
    y = torch.empty((n, out_size, out_size, channels), dtype=x.dtype, device=x.device)
    pixels = n * out_size * out_size
    _pool_bias_relu[(triton.cdiv(pixels, block_p), triton.cdiv(channels, block_c))](
        x, bias, y, pixels, height, width, out_size, out_size, channels, KERNEL=3, STRIDE=2, BLOCK_P=block_p,
        BLOCK_C=block_c, num_warps=warps)
    return y.permute(0, 3, 1, 2)


def eager(x, bias):
    return F.relu(F.max_pool2d(x, 3, 2) + bias.view(1, -1, 1, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    n = args.batch_size
    torch.manual_seed(0)
    result = {"batch_size": n, "device": torch.cuda.get_device_name(), "pools": {}}
    compiled = torch.compile(eager)
    compiled_flat = torch.compile(lambda x, bias: torch.flatten(eager(x, bias), 1))
    with torch.inference_mode():
        for name, (channels, size) in POOLS.items():
            x = torch.randn(n, channels, size, size, device="cuda", dtype=torch.bfloat16).contiguous(
                memory_format=torch.channels_last)
            bias = torch.randn(channels, device="cuda", dtype=torch.bfloat16)
            out_size = (size - 3) // 2 + 1
            moved_gb = (x.numel() + n * channels * out_size * out_size) * 2 / 1e9
            reference = eager(x, bias)
            forms = {"eager": functools.partial(eager, x, bias), "inductor": functools.partial(compiled, x, bias)}
            if name == "pool5":
                forms["inductor + flatten"] = functools.partial(compiled_flat, x, bias)
            for block_p, block_c, warps in ((32, 64, 4), (64, 64, 4), (128, 64, 8), (64, 128, 8), (16, 256, 4)):
                if block_c <= max(64, channels):
                    forms[f"triton {block_p}x{block_c} w{warps}"] = functools.partial(
                        pool_bias_relu, x, bias, block_p, block_c, warps)
            rows = {}
            for form, run in forms.items():
                out = run()
                exact = torch.equal(out.reshape(reference.shape) if "flatten" in form else out, reference)
                us = do_bench(run) * 1e3
                rows[form] = {"us": round(us, 1), "tb_per_s": round(moved_gb / us * 1e6 / 1e3, 2), "exact": exact}
                print(name, form, rows[form], flush=True)
            result["pools"][name] = {"moved_gb": round(moved_gb, 3), "forms": rows}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
