#!/usr/bin/env python3
"""conv1 with each image element gathered once per kernel row: the blocks form of conv_pairs.

conv_pairs' GEMM row is a pair of output pixels; its K runs over the 48-element span of each of
the 11 input rows that the pair's windows cover. Neighbouring pairs' spans overlap by half (the
pair steps 24 elements), so every image element is gathered twice per kernel row, and the kernel
is bound by the L1 that serves those gathers (80% in conv1_persistent call 4).

Here a GEMM row is one 24-element block of an input row (q): Z = blocks @ [W_first | W_second],
N = 256, where W_first holds the taps of the span's first half and W_second those of its second.
Pair p's output is Z_first[p] + Z_second[p + 1]: a shift by one GEMM row, done once per tile in
the epilogue (tl.gather), while each block is gathered once. The FLOPs are those of conv_pairs
(29 blocks x 264 K x 256 N against 28 pairs x 528 K x 128 N per output row). Tiles overlap by one
row: a tile's last row only feeds the row before it.

Call 1 (results/alexnet/h200/conv1_blocks) found it exact but slower, 3.127-4.337 ms against 2.184
at batch 4096: the L1 already served the pairs' overlap (18.7 M L2 requests against 20.5 M at 1024),
and the 128 x 256 fp32 accumulator leaves one program of 8 warps per multiprocessor (218 registers
per thread), too few to hide the gathers' latency.
Usage: python benchmarks/investigations/conv_blocks.py [--batch-size 4096] [--only REGEX]
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
def _conv_blocks_kernel(x_ptr, w_desc, y_ptr, rows, out_height, out_width, blocks, height, width, pad_top,
                        STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr,
                        BLOCK: tl.constexpr, START_SHIFT: tl.constexpr, N_OUT: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, ALIGNED: tl.constexpr):
    m = tl.program_id(0) * (BLOCK_M - 1) + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    block = m % blocks
    out_row = m // blocks                                   # (image, output row)
    top, row_elements, start, first = span_starts(out_row, block, out_height, height, width, pad_top, STRIDE,
                                                  CHANNELS, BLOCK, START_SHIFT)
    if ALIGNED:
        first = tl.multiple_of(first, 8)
    k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, 2 * N_OUT), dtype=tl.float32)
    a = image_tile(x_ptr, first, top, start, m_ok, 0, k, height, row_elements, BLOCK, KERNEL_HEIGHT)
    for k_start in range(0, KERNEL_HEIGHT * BLOCK, BLOCK_K):
        a_next = image_tile(x_ptr, first, top, start, m_ok, k_start + BLOCK_K, k, height, row_elements, BLOCK,
                            KERNEL_HEIGHT)
        acc = tl.dot(a, w_desc.load([k_start, 0]), acc)
        a = a_next
    # columns 2c + h: half h of the span, output column c of the pair
    first_half, second_half = tl.split(tl.reshape(acc, (BLOCK_M, N_OUT, 2)))
    local = tl.arange(0, BLOCK_M)
    next_row = tl.broadcast_to(tl.minimum(local + 1, BLOCK_M - 1)[:, None], (BLOCK_M, N_OUT))
    out = first_half + tl.gather(second_half, next_row, 0)
    cols = tl.arange(0, N_OUT)
    within_row = block[:, None] * N_OUT + cols[None, :]     # pair `block` starts at this element of the row
    ok = (m_ok & (local < BLOCK_M - 1))[:, None] & (within_row < out_width * (N_OUT // 2))
    tl.store(y_ptr + out_row.to(tl.int64)[:, None] * (out_width * (N_OUT // 2)) + within_row,
             out.to(y_ptr.dtype.element_ty), mask=ok)


def pack_blocks(packed: torch.Tensor, kernel_height: int, row: int, block: int, n_out: int,
                block_k: int) -> torch.Tensor:
    """conv_pairs' (kernel_height * row, >= n_out) matrix as the blocks form's (K, 2 * n_out): row
    kh * block + e, column 2c + h holds the pairs row kh * row + h * block + e, column c."""
    spans = packed[:kernel_height * row, :n_out].reshape(kernel_height, row, n_out)
    spans = torch.nn.functional.pad(spans, (0, 0, 0, 2 * block - row))          # (kh, 2 * block, n_out)
    halves = spans.reshape(kernel_height, 2, block, n_out).permute(0, 2, 3, 1)  # (kh, e, c, h)
    matrix = halves.reshape(kernel_height * block, 2 * n_out)
    return torch.nn.functional.pad(matrix, (0, 0, 0, -matrix.shape[0] % block_k)).contiguous()


def conv_blocks(x, packed_blocks, block_m, block_k, warps, stages, maxnreg=None):
    from triton.tools.tensor_descriptor import TensorDescriptor
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    block = 2 * stride * channels
    assert row == 2 * block, "a pair's span is two blocks"
    blocks = -(-out_width // 2) + 1
    rows = n * out_height * blocks
    y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    w_desc = TensorDescriptor.from_tensor(packed_blocks, [block_k, packed_blocks.shape[1]])
    aligned = block % 8 == 0 and (width * channels) % 8 == 0 and x.data_ptr() % 16 == 0
    _conv_blocks_kernel[(triton.cdiv(rows, block_m - 1),)](
        x, w_desc, y, rows, out_height, out_width, blocks, height, width, pad_top, STRIDE=stride, CHANNELS=channels,
        KERNEL_HEIGHT=kernel_height, BLOCK=block, START_SHIFT=shift, N_OUT=2 * out_channels, BLOCK_M=block_m,
        BLOCK_K=block_k, ALIGNED=aligned, num_warps=warps, num_stages=stages,
        **({"maxnreg": maxnreg} if maxnreg else {}))
    return y


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    x, packed = conv1_inputs(args.batch_size)
    stride, kernel_height, kernel_width, _, pad_left, _, _, out_channels = GEOMETRY
    row, _ = kernels.pair_geometry(stride, kernel_width, pad_left, x.shape[1])
    forms = {"shipped": functools.partial(kernels.conv_pairs, x, packed, None, *GEOMETRY)}
    for block_m, block_k, warps, stages, maxnreg in ((128, 16, 8, 3, None), (128, 32, 8, 3, None),
                                                     (128, 16, 8, 4, None), (128, 32, 8, 2, None),
                                                     (64, 16, 4, 3, None), (64, 16, 4, 4, None),
                                                     (64, 32, 4, 3, None), (64, 16, 4, 3, 168)):
        weights = pack_blocks(packed, kernel_height, row, 2 * stride * x.shape[1], 2 * out_channels, block_k)
        forms[f"blocks {block_m}x{block_k} w{warps} s{stages} maxnreg {maxnreg}"] = functools.partial(
            conv_blocks, x, weights, block_m, block_k, warps, stages, maxnreg)
    time_forms(forms, x, packed, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
