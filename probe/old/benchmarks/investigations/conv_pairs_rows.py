#!/usr/bin/env python3
"""conv_pairs with its K steps on kernel-row boundaries: does cheaper address arithmetic pay?

The shipped kernel steps through K = 11 kernel rows x ROW (48) elements in tiles of 32, so a tile
can straddle two kernel rows: every element's row and column come from a division and a remainder,
and the last step multiplies 16 padding rows. Here each step is one kernel row, as a 32-wide and a
16-wide tile of one contiguous 96-byte span per GEMM row: the row is a scalar, each GEMM row's mask
is its row test and its column bounds, and K is 528, not 544. The loop over kernel rows is either a
plain loop (pipelined as the shipped one: the next row's image tiles load while this row multiplies)
or unrolled (tl.static_range), so that every offset is a constant.
Each form is checked against the shipped kernel, then timed with do_bench.
Usage: python benchmarks/investigations/conv_pairs_rows.py [--batch-size 4096] [--only REGEX]
"""

import functools
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.kernels import _span_starts as span_starts  # noqa: E402

from conv1_forms import GEOMETRY, conv1_inputs, get_args_parser, time_forms  # noqa: E402


@triton.jit
def _row_tiles(x_ptr, first, top, start, m_ok, kernel_row, height, row_elements):
    """The (BLOCK_M, 32) and (BLOCK_M, 16) tiles of one kernel row's 48-element spans."""
    in_row = top + kernel_row
    row_ok = m_ok & (in_row >= 0) & (in_row < height)
    base = first + kernel_row * row_elements
    low = tl.arange(0, 32)
    high = 32 + tl.arange(0, 16)
    low_ok = row_ok[:, None] & (start[:, None] + low[None, :] >= 0) & (start[:, None] + low[None, :] < row_elements)
    high_ok = (row_ok[:, None] & (start[:, None] + high[None, :] >= 0)
               & (start[:, None] + high[None, :] < row_elements))
    a_low = tl.load(x_ptr + base[:, None] + low[None, :], mask=low_ok, other=0.0)
    a_high = tl.load(x_ptr + base[:, None] + high[None, :], mask=high_ok, other=0.0)
    return a_low, a_high


@triton.jit
def _pairs_rows(x_ptr, w32_desc, w16_desc, y_ptr, rows, out_height, out_width, pairs, height, width, pad_top,
                STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr,
                START_SHIFT: tl.constexpr, N_OUT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                UNROLL: tl.constexpr):
    """kernels._conv_pairs_kernel (aligned, no bias, no row max), one kernel row per K step."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    pair = m % pairs
    top, row_elements, start, first = span_starts(m // pairs, pair, out_height, height, width, pad_top, STRIDE,
                                                  CHANNELS, 2 * STRIDE * CHANNELS, START_SHIFT)
    first = tl.multiple_of(first, 8)
    cols = tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if UNROLL:
        for kernel_row in tl.static_range(KERNEL_HEIGHT):
            a_low, a_high = _row_tiles(x_ptr, first, top, start, m_ok, kernel_row, height, row_elements)
            acc = tl.dot(a_low, w32_desc.load([kernel_row * ROW, 0]), acc)
            acc = tl.dot(a_high, w16_desc.load([kernel_row * ROW + 32, 0]), acc)
    else:
        a_low, a_high = _row_tiles(x_ptr, first, top, start, m_ok, 0, height, row_elements)
        for kernel_row in range(KERNEL_HEIGHT):
            # past the last kernel row the next tiles are masked off by the row test: nothing is read
            next_low, next_high = _row_tiles(x_ptr, first, top, start, m_ok & (kernel_row + 1 < KERNEL_HEIGHT),
                                             kernel_row + 1, height, row_elements)
            acc = tl.dot(a_low, w32_desc.load([kernel_row * ROW, 0]), acc)
            acc = tl.dot(a_high, w16_desc.load([kernel_row * ROW + 32, 0]), acc)
            a_low, a_high = next_low, next_high
    within_row = pair[:, None] * N_OUT + cols[None, :]
    out_row = (m // pairs).to(tl.int64)
    tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def pairs_rows(x, packed, block_m, warps, stages, maxnreg, unroll, carved):
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    assert row == 48, row
    pairs = -(-out_width // 2)
    y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    w32 = TensorDescriptor.from_tensor(packed, [32, packed.shape[1]])
    w16 = TensorDescriptor.from_tensor(packed, [16, packed.shape[1]])
    compiled = _pairs_rows[(triton.cdiv(rows, block_m),)](
        x, w32, w16, y, rows, out_height, out_width, pairs, height, width, pad_top, STRIDE=stride,
        CHANNELS=channels, KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift, N_OUT=2 * out_channels,
        BLOCK_N=packed.shape[1], BLOCK_M=block_m, UNROLL=unroll, num_warps=warps, num_stages=stages,
        maxnreg=maxnreg)
    if carved:      # the shipped kernel's L1 carve-out, for the same programs per multiprocessor
        kernels._leave_l1(compiled, x.device, triton.Config({}, num_warps=warps, num_stages=stages, maxnreg=maxnreg))
    return y


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    x, packed = conv1_inputs(args.batch_size)
    forms = {"shipped 128x32 w4 s3 maxnreg 168": functools.partial(kernels.conv_pairs, x, packed, None, *GEOMETRY)}
    for block_m, warps, stages, maxnreg, unroll in ((128, 4, 3, 168, False), (128, 4, 3, 168, True),
                                                    (128, 4, 2, 168, False), (128, 4, 4, 168, False),
                                                    (128, 4, 3, None, False), (128, 8, 3, None, False),
                                                    (64, 4, 3, None, False), (256, 8, 3, 168, False)):
        for carved in (False, True):     # uncarved first: the carve-out stays with the kernel
            name = (f"rows {block_m} w{warps} s{stages} maxnreg {maxnreg or 'default'}"
                    f"{' unrolled' if unroll else ''}{' carved' if carved else ''}")
            forms[name] = functools.partial(pairs_rows, x, packed, block_m, warps, stages, maxnreg, unroll, carved)
    forms["shipped again"] = forms["shipped 128x32 w4 s3 maxnreg 168"]
    time_forms(forms, x, packed, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
