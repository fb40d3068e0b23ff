#!/usr/bin/env python3
"""conv1's pairs form with its image tiles copied by TMA, not gathered by each thread.

Nsight Compute (conv1_persistent calls 1-4): the shipped kernel is bound by the L2's tag lookups
(88% of peak) that its per-thread gathers of overlapping image rows cause; through the L1 the
bound moves to the L1 (80%). A tensor map can describe the gather itself: pair p's span of one
image row starts 2 * stride * channels = 24 elements after pair p-1's and is ROW = 48 long, so a
4-D view (image, row, pair, element) with strides (H*W*C, W*C, 24, 1) over the image (the pair and
element dimensions overlap) is a box the copy engine reads whole, one box per kernel row, with
rows above and below the image zero-filled by its bounds.

Its bounds cannot zero the columns left and right of the image (the pair and element coordinates
are separate), so the view starts at pair 1 and ends before the last pair: the interior pairs
1..26 come from the TMA kernel, whose tiles are 4 images x 32 pair slots of one output row; pairs
0 and 27 from the shipped gather restricted to them (7% of the rows), in a second kernel.
Both are checked against the shipped kernel, then timed apart and together.
Usage: python benchmarks/investigations/conv_pairs_tma.py [--batch-size 4096] [--only REGEX]
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
def _pairs_tma(x32_desc, x16_desc, w32_desc, w16_desc, y_ptr, n, out_height, out_width, pairs, pad_top,
               STRIDE: tl.constexpr, KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr, N_OUT: tl.constexpr,
               BLOCK_N: tl.constexpr, IMAGES: tl.constexpr, SLOTS: tl.constexpr):
    """The interior pairs (1 .. pairs - 2) of one output row of IMAGES images: slot s is pair s."""
    pid = tl.program_id(0)
    out_row = pid % out_height
    image0 = pid // out_height * IMAGES
    acc = tl.zeros((IMAGES * SLOTS, BLOCK_N), dtype=tl.float32)
    for kernel_row in range(KERNEL_HEIGHT):
        row = out_row * STRIDE - pad_top + kernel_row
        a = x32_desc.load([image0, row, -1, 0]).reshape(IMAGES * SLOTS, 32)
        w = w32_desc.load([kernel_row * ROW, 0])
        acc = tl.dot(a, w, acc)
        a = x16_desc.load([image0, row, -1, 32]).reshape(IMAGES * SLOTS, 16)
        w = w16_desc.load([kernel_row * ROW + 32, 0])
        acc = tl.dot(a, w, acc)
    r = tl.arange(0, IMAGES * SLOTS)
    image = image0 + r // SLOTS
    pair = r % SLOTS
    ok = (image < n) & (pair >= 1) & (pair < pairs - 1)
    cols = tl.arange(0, BLOCK_N)
    within_row = pair[:, None] * N_OUT + cols[None, :]
    y_row = image.to(tl.int64) * out_height + out_row
    tl.store(y_ptr + y_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
             mask=ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


@triton.jit
def _pairs_edges(x_ptr, w_ptr, y_ptr, rows, out_height, out_width, pairs, height, width, pad_top,
                 STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr,
                 START_SHIFT: tl.constexpr, N_OUT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                 BLOCK_K: tl.constexpr):
    """kernels._conv_pairs_kernel (aligned, no bias) over pairs 0 and pairs - 1 only: GEMM row m is
    output row m // 2's first (m even) or last pair."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    pair = m % 2 * (pairs - 1)
    top, row_elements, start, first = span_starts(m // 2, pair, out_height, height, width, pad_top, STRIDE,
                                                  CHANNELS, 2 * STRIDE * CHANNELS, START_SHIFT)
    first = tl.multiple_of(first, 8)
    k = tl.arange(0, BLOCK_K)
    cols = tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k_start in range(0, KERNEL_HEIGHT * ROW, BLOCK_K):
        a = image_tile(x_ptr, first, top, start, m_ok, k_start, k, height, row_elements, ROW, KERNEL_HEIGHT)
        w = tl.load(w_ptr + (k_start + k)[:, None] * BLOCK_N + cols[None, :])
        acc = tl.dot(a, w, acc)
    within_row = pair[:, None] * N_OUT + cols[None, :]
    out_row = (m // 2).to(tl.int64)
    tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def pairs_tma(x, packed, images, warps, stages, parts, y=None):
    """The pairs form by the two kernels; `parts` picks which run ('interior', 'edges' or both)."""
    from triton.tools.tensor_descriptor import TensorDescriptor
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    step = 2 * stride * channels
    assert row == 48 and shift < step     # the view's first span, pair 1's, starts inside the row
    pairs = -(-out_width // 2)
    if y is None:
        y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    if "interior" in parts:
        flat = x.permute(0, 2, 3, 1).reshape(-1)[step - shift:]     # pair 1's span starts here
        shape, strides = [n, height, pairs - 2, row], [height * width * channels, width * channels, step, 1]
        x32 = TensorDescriptor(flat, shape, strides, [images, 1, 32, 32])
        x16 = TensorDescriptor(flat, shape, strides, [images, 1, 32, 16])
        w32 = TensorDescriptor.from_tensor(packed, [32, packed.shape[1]])
        w16 = TensorDescriptor.from_tensor(packed, [16, packed.shape[1]])
        _pairs_tma[(triton.cdiv(n, images) * out_height,)](
            x32, x16, w32, w16, y, n, out_height, out_width, pairs, pad_top, STRIDE=stride,
            KERNEL_HEIGHT=kernel_height, ROW=row, N_OUT=2 * out_channels, BLOCK_N=packed.shape[1], IMAGES=images,
            SLOTS=32, num_warps=warps, num_stages=stages)
    if "edges" in parts:
        rows = n * out_height * 2
        _pairs_edges[(triton.cdiv(rows, 128),)](
            x, packed, y, rows, out_height, out_width, pairs, height, width, pad_top, STRIDE=stride,
            CHANNELS=channels, KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift, N_OUT=2 * out_channels,
            BLOCK_N=packed.shape[1], BLOCK_M=128, BLOCK_K=32, num_warps=4, num_stages=4)
    return y


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    x, packed = conv1_inputs(args.batch_size)
    forms = {"shipped 128x32 w4 s4": functools.partial(kernels.conv_pairs, x, packed, None, *GEOMETRY)}
    for images, warps, stages in ((4, 4, 3), (4, 4, 4), (4, 8, 3), (2, 4, 4), (8, 8, 3)):
        forms[f"tma {images} images w{warps} s{stages}"] = functools.partial(
            pairs_tma, x, packed, images, warps, stages, ("interior", "edges"))
    y = torch.empty((x.shape[0], 55, 55, 64), dtype=x.dtype, device=x.device)
    forms["tma 4 images w4 s3, interior only"] = functools.partial(pairs_tma, x, packed, 4, 4, 3, ("interior",), y)
    forms["edges only"] = functools.partial(pairs_tma, x, packed, 4, 4, 3, ("edges",), y)
    time_forms(forms, x, packed, args.only, partial=("tma 4 images w4 s3, interior only", "edges only"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
