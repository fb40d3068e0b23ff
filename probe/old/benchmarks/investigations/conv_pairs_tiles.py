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
- a prototype that loops over the kernel's rows instead of K steps of a fixed width: a row's 48
  elements are two loads (32 + 16) whose column masks are computed once, outside the loop, and the
  row stride is a compile-time constant; K is 528, not 544 (17 steps of 32).
Each is checked against the shipped kernel first.
Usage: python benchmarks/investigations/conv_pairs_tiles.py [--batch-size 4096] [--precision bf16] [--only REGEX]
"""

import argparse
import functools
import json
import re
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.kernels import _span_starts as span_starts  # noqa: E402
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
    top, row_elements, start, first = span_starts(m // pairs, pair, out_height, height, width, pad_top, STRIDE,
                                                  CHANNELS, 2 * STRIDE * CHANNELS, START_SHIFT)
    first = tl.multiple_of(first, 8)
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


@triton.jit
def _pairs_by_rows(x_ptr, w_ptr, y_ptr, rows, out_height, out_width, pairs, height, pad_top,
                   ROW_ELEMENTS: tl.constexpr, STRIDE: tl.constexpr, CHANNELS: tl.constexpr,
                   KERNEL_HEIGHT: tl.constexpr, START_SHIFT: tl.constexpr, N_OUT: tl.constexpr,
                   BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr):
    """conv_pairs for spans of 48 elements (ROW = 32 + 16), one kernel row per step."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    pair = m % pairs
    top, _, start, first = span_starts(m // pairs, pair, out_height, height, ROW_ELEMENTS, pad_top, STRIDE, 1,
                                       2 * STRIDE * CHANNELS, START_SHIFT)
    first = tl.multiple_of(first, 8)
    k32 = tl.arange(0, 32)
    k16 = 32 + tl.arange(0, 16)
    cols = tl.arange(0, BLOCK_N)
    inside32 = (start[:, None] + k32[None, :] >= 0) & (start[:, None] + k32[None, :] < ROW_ELEMENTS)
    inside16 = (start[:, None] + k16[None, :] >= 0) & (start[:, None] + k16[None, :] < ROW_ELEMENTS)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for r in range(KERNEL_HEIGHT):
        row_ok = (m_ok & (top + r >= 0) & (top + r < height))[:, None]
        span = x_ptr + first[:, None] + r * ROW_ELEMENTS
        a32 = tl.load(span + k32[None, :], mask=row_ok & inside32, other=0.0)
        a16 = tl.load(span + k16[None, :], mask=row_ok & inside16, other=0.0)
        w32 = tl.load(w_ptr + (r * 48 + k32)[:, None] * BLOCK_N + cols[None, :])
        w16 = tl.load(w_ptr + (r * 48 + k16)[:, None] * BLOCK_N + cols[None, :])
        acc = tl.dot(a32, w32, acc)
        acc = tl.dot(a16, w16, acc)
    within_row = pair[:, None] * N_OUT + cols[None, :]
    out_row = (m // pairs).to(tl.int64)
    tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def pairs_by_rows(x, packed, block_m, warps, stages):
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    assert row == 48
    pairs = -(-out_width // 2)
    y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    _pairs_by_rows[(triton.cdiv(rows, block_m),)](
        x, packed, y, rows, out_height, out_width, pairs, height, pad_top, ROW_ELEMENTS=width * channels,
        STRIDE=stride, CHANNELS=channels, KERNEL_HEIGHT=kernel_height, START_SHIFT=shift, N_OUT=2 * out_channels,
        BLOCK_N=packed.shape[1], BLOCK_M=block_m, num_warps=warps, num_stages=stages)
    return y


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
    parser.add_argument("--only", default="", help="a regular expression: the forms whose names match")
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
        forms = {}
        for m, k, w, s in ((128, 32, 4, 4), (256, 32, 8, 3), (256, 32, 8, 4), (256, 64, 8, 2), (256, 64, 8, 3)):
            config = triton.Config({"BLOCK_M": m, "BLOCK_K": k}, num_warps=w, num_stages=s)
            forms[f"shipped {m}x{k} w{w} s{s}"] = functools.partial(
                kernels.conv_pairs, x, packed, None, *GEOMETRY, config=config)
        for m, k, w, s, swap, cache in ((128, 32, 4, 4, False, ".ca"), (256, 32, 8, 3, False, ".ca"),
                                        (256, 32, 4, 3, True, ""), (256, 64, 4, 2, True, ""),
                                        (256, 32, 8, 3, True, ""), (256, 32, 8, 4, True, ""),
                                        (256, 32, 4, 3, True, ".ca"), (256, 32, 8, 3, True, ".ca")):
            name = f"{'swapped' if swap else 'variant'} {m}x{k} w{w} s{s} {cache or 'default'}"
            forms[name] = functools.partial(pairs_variant, x, packed, m, k, w, s, swap, cache)
        for m, w, s in ((128, 4, 3), (128, 4, 4), (128, 8, 3), (256, 8, 3)):
            forms[f"by rows {m} w{w} s{s}"] = functools.partial(pairs_by_rows, x, packed, m, w, s)
        for name, run in forms.items():
            if not re.search(args.only, name):
                continue
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
