#!/usr/bin/env python3
"""Does conv1's pairs kernel (kernels.conv_pairs) lose its time between tiles or in its weight loads?

Each of its 49,280 programs at batch 4096 runs 17 K steps of one 128 x 128 x 32 MMA, then stores a
32 KB tile; no loads are in flight while a program stores, and every step computes the weight
tile's addresses and copies it through the same cp.async path as the gathered image rows. This
times, at one batch size, the shipped kernel against:
- a persistent form: one program per multiprocessor slot looping over tiles, with the tile loop
  flattened into the K loop (tl.range(flatten=True)), so the next tile's loads are issued while
  this one's MMAs drain and its tile is stored;
- the same with the weight tiles loaded by the tensor copy engine (a TMA descriptor), which needs
  no addresses per thread and no proxy fence for them;
- the shipped kernel with K steps of 64 (9 steps, K padded to 576 instead of 544).
Each is checked against the shipped kernel first.
Usage: python benchmarks/investigations/conv_pairs_persistent.py [--batch-size 4096] [--only REGEX]
"""

import functools
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.kernels import _image_tile as image_tile, _span_starts as span_starts  # noqa: E402

from conv1_forms import GEOMETRY, conv1_inputs, get_args_parser, time_forms  # noqa: E402


@triton.jit
def _pairs_persistent(x_ptr, w_ptr, w_desc, y_ptr, rows, out_height, out_width, pairs, height, width, pad_top,
                      PROGRAMS: tl.constexpr, STRIDE: tl.constexpr, CHANNELS: tl.constexpr,
                      KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr, START_SHIFT: tl.constexpr,
                      N_OUT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr,
                      TMA_WEIGHTS: tl.constexpr, FLATTEN: tl.constexpr):
    """kernels._conv_pairs_kernel (aligned, no bias) with each program looping over tiles."""
    row_elements = width * CHANNELS
    k = tl.arange(0, BLOCK_K)
    cols = tl.arange(0, BLOCK_N)
    k_steps: tl.constexpr = (KERNEL_HEIGHT * ROW + BLOCK_K - 1) // BLOCK_K
    tiles = tl.cdiv(rows, BLOCK_M)
    for tile in tl.range(tl.program_id(0), tiles, PROGRAMS, flatten=FLATTEN):
        m = tile * BLOCK_M + tl.arange(0, BLOCK_M)
        m_ok = m < rows
        pair = m % pairs
        top, _, start, first = span_starts(m // pairs, pair, out_height, height, width, pad_top, STRIDE, CHANNELS,
                                           2 * STRIDE * CHANNELS, START_SHIFT)
        first = tl.multiple_of(first, 8)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for step in range(k_steps):
            k_start = step * BLOCK_K
            a = image_tile(x_ptr, first, top, start, m_ok, k_start, k, height, row_elements, ROW, KERNEL_HEIGHT)
            if TMA_WEIGHTS:
                w = w_desc.load([k_start, 0])
            else:
                w = tl.load(w_ptr + (k_start + k)[:, None] * BLOCK_N + cols[None, :])
            acc = tl.dot(a, w, acc)
        within_row = pair[:, None] * N_OUT + cols[None, :]
        out_row = (m // pairs).to(tl.int64)
        tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
                 mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def pairs_persistent(x, packed, programs_per_sm, block_m, block_k, warps, stages, tma_weights, flatten):
    from triton.tools.tensor_descriptor import TensorDescriptor
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    pairs = -(-out_width // 2)
    y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    programs = min(programs_per_sm * torch.cuda.get_device_properties(x.device).multi_processor_count,
                   triton.cdiv(rows, block_m))
    w_desc = TensorDescriptor.from_tensor(packed, [block_k, packed.shape[1]]) if tma_weights else packed
    _pairs_persistent[(programs,)](
        x, packed, w_desc, y, rows, out_height, out_width, pairs, height, width, pad_top, PROGRAMS=programs,
        STRIDE=stride, CHANNELS=channels, KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift,
        N_OUT=2 * out_channels, BLOCK_N=packed.shape[1], BLOCK_M=block_m, BLOCK_K=block_k,
        TMA_WEIGHTS=tma_weights, FLATTEN=flatten, num_warps=warps, num_stages=stages)
    return y


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    x, packed = conv1_inputs(args.batch_size)
    forms = {"shipped 128x32 w4 s4": functools.partial(kernels.conv_pairs, x, packed, None, *GEOMETRY)}
    for m, kk, w, s in ((128, 64, 4, 3), (128, 64, 8, 3), (128, 64, 4, 2)):
        config = triton.Config({"BLOCK_M": m, "BLOCK_K": kk}, num_warps=w, num_stages=s)
        forms[f"shipped {m}x{kk} w{w} s{s}"] = functools.partial(
            kernels.conv_pairs, x, packed, None, *GEOMETRY, config=config)
    for per_sm, m, kk, w, s, tma, flatten in ((2, 128, 32, 4, 4, False, True), (3, 128, 32, 4, 3, False, True),
                                              (2, 128, 32, 4, 4, True, True), (3, 128, 32, 4, 3, True, True),
                                              (2, 128, 32, 4, 4, False, False), (2, 128, 32, 4, 4, True, False),
                                              (1, 128, 32, 8, 4, True, True), (2, 128, 64, 4, 3, True, True)):
        name = (f"persistent {per_sm}/SM {m}x{kk} w{w} s{s} {'TMA weights' if tma else 'loaded weights'}"
                f"{' flat' if flatten else ''}")
        forms[name] = functools.partial(pairs_persistent, x, packed, per_sm, m, kk, w, s, tma, flatten)
    time_forms(forms, x, packed, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
