#!/usr/bin/env python3
"""Is conv1's pairs kernel (kernels.conv_pairs) bound by what its tiles read from L2?

At batch 4096 each 128-row tile of conv_pairs reads its whole (528 x 128) weight matrix and its
(128 x 528) gathered image rows, 270 KB, for 17.3 MFLOP: 64 FLOP per byte, so at about 6 TB/s of
L2 bandwidth the kernel cannot pass about 390 TFLOP/s, and it runs at 374. This times, at one
batch size, forms that read fewer bytes per FLOP:
- the shipped kernel in tiles of 256 rows (8 warps), where a weight tile serves twice the rows;
- a prototype with the roles swapped (weights as the 128-row side, 256 pixel pairs as the wide
  side of the MMA), the same bytes per FLOP as 256 rows but with 128-wide accumulators per warp;
- both with the image rows loaded through L1 (cache modifier .ca), which can serve the 5.5-fold
  overlap between neighbouring pairs' windows instead of L2.
Each is checked against the shipped kernel first.
Usage: python benchmarks/investigations/conv_pairs_tiles.py [--batch-size 4096] [--precision bf16]
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d  # noqa: E402

GEOMETRY = (4, 11, 11, 2, 2, 55, 55, 64)    # AlexNet conv1: stride, kernel, padding, 55 x 55 x 64 out


@triton.jit
def _pairs_variant(x_ptr, wt_ptr, y_ptr, rows, out_height, pairs, height, width, pad_top,
                   STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr,
                   START_SHIFT: tl.constexpr, N_OUT: tl.constexpr, BLOCK_N: tl.constexpr, K_PADDED: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, SWAP: tl.constexpr, A_CACHE: tl.constexpr):
    """conv_pairs' gather (aligned image rows), with the MMA's sides swapped when SWAP: the
    accumulator is (output channels, pairs) and the weights (wt_ptr: (BLOCK_N, K_PADDED)) the left side."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    pair = m % pairs
    top = (m // pairs) % out_height * STRIDE - pad_top
    image = (m // pairs // out_height).to(tl.int64)
    row_elements = width * CHANNELS
    start = pair * (2 * STRIDE * CHANNELS) - START_SHIFT
    first = tl.multiple_of((image * height + top) * row_elements + start, 8)
    k = tl.arange(0, BLOCK_K)
    cols = tl.arange(0, BLOCK_N)
    if SWAP:
        acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.float32)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k_start in range(0, KERNEL_HEIGHT * ROW, BLOCK_K):
        kernel_row = (k_start + k) // ROW
        within = (k_start + k) % ROW
        in_row = top[:, None] + kernel_row[None, :]
        column = start[:, None] + within[None, :]
        ok = (m_ok[:, None] & (in_row >= 0) & (in_row < height) & (kernel_row < KERNEL_HEIGHT)[None, :]
              & (column >= 0) & (column < row_elements))
        a = tl.load(x_ptr + first[:, None] + (kernel_row * row_elements + within)[None, :], mask=ok, other=0.0,
                    cache_modifier=A_CACHE)
        if SWAP:
            w = tl.load(wt_ptr + cols[:, None] * K_PADDED + (k_start + k)[None, :])
            acc = tl.dot(w, tl.trans(a), acc)
        else:
            w = tl.load(wt_ptr + cols[None, :] * K_PADDED + (k_start + k)[:, None])
            acc = tl.dot(a, w, acc)
    if SWAP:
        out = tl.trans(acc)
    else:
        out = acc
    tl.store(y_ptr + m.to(tl.int64)[:, None] * N_OUT + cols[None, :], out.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None] & (cols < N_OUT)[None, :])


def pairs_variant(x, packed, block_m, block_k, warps, stages, swap, a_cache):
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    pairs = -(-out_width // 2)
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    weights_t = packed.t().contiguous()                   # (BLOCK_N, K): both sides read it along K
    y = torch.empty((n, out_height, pairs, 2 * out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    _pairs_variant[(triton.cdiv(rows, block_m),)](
        x, weights_t, y, rows, out_height, pairs, height, width, pad_top, STRIDE=stride, CHANNELS=channels,
        KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift, N_OUT=2 * out_channels, BLOCK_N=packed.shape[1],
        K_PADDED=packed.shape[0], BLOCK_M=block_m, BLOCK_K=block_k, SWAP=swap, A_CACHE=a_cache,
        num_warps=warps, num_stages=stages)
    return y.reshape(n, out_height, 2 * pairs, out_channels)[:, :, :out_width]   # as the shipped kernel's image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--precision", choices=("bf16", "fp16"), default="bf16")
    args = parser.parse_args()
    dtype, n = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.precision], args.batch_size
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(3, 64, 11, 4, 2, bias=False).to("cuda", dtype)
    packed = SpaceToDepthConv2d(conv1).pair_weight.data
    x = torch.randn(n, 3, 224, 224, device="cuda", dtype=dtype).contiguous(memory_format=torch.channels_last)
    flop = 2 * n * 55 * 28 * packed.shape[0] * packed.shape[1]
    result = {"batch_size": n, "precision": args.precision, "device": torch.cuda.get_device_name(),
              "mma_tflop": flop / 1e12, "ms": {}, "max_abs_vs_shipped": {}}
    with torch.inference_mode():
        reference = kernels.conv_pairs(x, packed, None, *GEOMETRY, config=kernels.PAIR_CONFIG)
        for m, k, w, s in ((128, 32, 4, 4), (256, 32, 8, 3), (256, 32, 8, 4), (256, 64, 8, 2), (256, 64, 8, 3)):
            config = triton.Config({"BLOCK_M": m, "BLOCK_K": k}, num_warps=w, num_stages=s)
            name = f"shipped {m}x{k} w{w} s{s}"
            run = lambda: kernels.conv_pairs(x, packed, None, *GEOMETRY, config=config)   # noqa: E731
            result["max_abs_vs_shipped"][name] = (run().float() - reference.float()).abs().max().item()
            result["ms"][name] = do_bench(run)
            print(name, result["ms"][name], flush=True)
        for m, k, w, s, swap, cache in ((128, 32, 4, 4, False, ".ca"), (256, 32, 8, 3, False, ".ca"),
                                        (256, 32, 4, 3, True, ""), (256, 64, 4, 2, True, ""),
                                        (256, 32, 8, 3, True, ""), (256, 32, 8, 4, True, ""),
                                        (256, 32, 4, 3, True, ".ca"), (256, 32, 8, 3, True, ".ca")):
            name = f"{'swapped' if swap else 'variant'} {m}x{k} w{w} s{s} {cache or 'default'}"
            run = lambda: pairs_variant(x, packed, m, k, w, s, swap, cache)   # noqa: E731
            try:
                result["max_abs_vs_shipped"][name] = (run().float() - reference.float()).abs().max().item()
                result["ms"][name] = do_bench(run)
            except Exception as error:      # e.g. out of shared memory or registers for this tile
                result["ms"][name] = f"failed: {str(error).splitlines()[0][:200]}"
            print(name, result["ms"][name], flush=True)
    best = min((ms, name) for name, ms in result["ms"].items() if isinstance(ms, float))
    result["best"] = {"name": best[1], "ms": best[0], "tflop_per_s": flop / best[0] / 1e9}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
