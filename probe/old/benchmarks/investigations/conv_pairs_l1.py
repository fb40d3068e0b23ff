#!/usr/bin/env python3
"""Can the L1 serve conv_pairs' overlapping image windows, and does that lift its L2 bound?

Nsight Compute on the shipped kernel (batch 1024, conv1_persistent call 1): the L2's tag lookups
run at 88% of their peak, its sectors at 52%. The gathered image rows reach the L2 as cp.async
copies that bypass the L1 (.cg), about 10 L2 requests per warp-level copy, while neighbouring pairs
and output rows read the same bytes about 5.5 times over. A persistent prototype whose image loads
went through the L1 hit 73% of them there and sent a quarter of the requests to the L2.

Triton's cp.async copies of 16 bytes always bypass the L1 (.cg, whatever the load's cache
modifier), and Triton asks the driver to prefer shared memory for every kernel
(cuFuncSetCacheConfig), so the L1 keeps what is left of 256 KB after the largest carve-out (233 KB
configured for the shipped kernel, which runs 2 programs per multiprocessor for its registers). This
times the shipped kernel against copies of it whose image tile for the next K step is loaded into
registers by plain global loads (cached in the L1) while the current step multiplies, with the
carve-out preference set to a share of the maximum after loading (cuFuncSetAttribute), over 1-4
stages of the weight tiles, loaded by cp.async or by TMA.

Call 2 found the L1 path slower although the L2 then ran at a third of its peak: with 2 programs
of 4 warps per multiprocessor the kernel waits on latency. So it also times the shipped gather with
the registers capped at 168 per thread (maxnreg), which lets 3 programs share a multiprocessor, and
tiles of 64 rows (half the accumulator).
Usage: python benchmarks/investigations/conv_pairs_l1.py [--batch-size 4096] [--only REGEX]
"""

import ctypes
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
def _pairs_cached(x_ptr, w_ptr, w_desc, y_ptr, rows, out_height, out_width, pairs, height, width, pad_top,
                  STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr, ROW: tl.constexpr,
                  START_SHIFT: tl.constexpr, N_OUT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                  BLOCK_K: tl.constexpr, TMA_WEIGHTS: tl.constexpr, PREFETCH: tl.constexpr):
    """kernels._conv_pairs_kernel (aligned, no bias) with the image tiles' path (cp.async to shared
    memory, or prefetched into registers) and the weight tiles' (cp.async or TMA) as knobs."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < rows
    pair = m % pairs
    top, row_elements, start, first = span_starts(m // pairs, pair, out_height, height, width, pad_top, STRIDE,
                                                  CHANNELS, 2 * STRIDE * CHANNELS, START_SHIFT)
    first = tl.multiple_of(first, 8)
    k = tl.arange(0, BLOCK_K)
    cols = tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    a = image_tile(x_ptr, first, top, start, m_ok, 0, k, height, row_elements, ROW, KERNEL_HEIGHT)
    for k_start in range(0, KERNEL_HEIGHT * ROW, BLOCK_K):
        if PREFETCH:    # the next step's image tile, loaded into registers through the L1 while this one multiplies
            a_next = image_tile(x_ptr, first, top, start, m_ok, k_start + BLOCK_K, k, height, row_elements, ROW,
                                KERNEL_HEIGHT)
        else:
            a = image_tile(x_ptr, first, top, start, m_ok, k_start, k, height, row_elements, ROW, KERNEL_HEIGHT)
        if TMA_WEIGHTS:
            w = w_desc.load([k_start, 0])
        else:
            w = tl.load(w_ptr + (k_start + k)[:, None] * BLOCK_N + cols[None, :])
        acc = tl.dot(a, w, acc)
        if PREFETCH:
            a = a_next
    within_row = pair[:, None] * N_OUT + cols[None, :]
    out_row = (m // pairs).to(tl.int64)
    tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row, acc.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def set_carveout(compiled, percent):
    """Prefer `percent` of the maximum shared memory for this kernel (the rest is L1)."""
    libcuda = ctypes.CDLL("libcuda.so.1")
    status = libcuda.cuFuncSetAttribute(ctypes.c_void_p(compiled.function), kernels._PREFERRED_SHARED_MEMORY_CARVEOUT,
                                        ctypes.c_int(percent))
    if status != 0:
        raise RuntimeError(f"cuFuncSetAttribute returned {status}")


def pairs_cached(x, packed, block_m, block_k, warps, stages, tma_weights, prefetch, carveout, state,
                 maxnreg=None):
    from triton.tools.tensor_descriptor import TensorDescriptor
    stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width, out_channels = GEOMETRY
    n, channels, height, width = x.shape
    row, shift = kernels.pair_geometry(stride, kernel_width, pad_left, channels)
    pairs = -(-out_width // 2)
    y = torch.empty((n, out_height, out_width, out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    w_desc = TensorDescriptor.from_tensor(packed, [block_k, packed.shape[1]]) if tma_weights else packed
    compiled = _pairs_cached[(triton.cdiv(rows, block_m),)](
        x, packed, w_desc, y, rows, out_height, out_width, pairs, height, width, pad_top, STRIDE=stride,
        CHANNELS=channels, KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift, N_OUT=2 * out_channels,
        BLOCK_N=packed.shape[1], BLOCK_M=block_m, BLOCK_K=block_k, TMA_WEIGHTS=tma_weights,
        PREFETCH=prefetch, num_warps=warps, num_stages=stages, **({'maxnreg': maxnreg} if maxnreg else {}))
    if carveout is not None and not state:    # after the first launch loaded it; applies from the next
        set_carveout(compiled, carveout)
        state.append(compiled)
    return y


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    x, packed = conv1_inputs(args.batch_size)
    forms = {"shipped 128x32 w4 s4": functools.partial(kernels.conv_pairs, x, packed, None, *GEOMETRY)}
    for stages, prefetch, tma, carveout in ((3, True, False, None), (3, True, False, 44), (4, True, False, 58),
                                            (3, True, True, None), (3, True, True, 44), (2, True, True, 44),
                                            (2, True, True, 30), (1, True, True, 30), (1, True, False, 30),
                                            (4, False, False, 58), (3, False, True, None)):
        name = (f"copy s{stages} image {'prefetched by ld.global' if prefetch else 'by cp.async'} weights "
                f"{'TMA' if tma else 'cp.async'} carveout {carveout if carveout is not None else 'default'}")
        forms[name] = functools.partial(pairs_cached, x, packed, 128, 32, 4, stages, tma, prefetch,
                                        carveout, [])
    # registers cap the shipped tiles at 2 programs per multiprocessor; 168 per thread allow 3
    for block_m, block_k, stages, tma, maxnreg in ((128, 32, 3, True, 168), (128, 32, 4, True, 168),
                                                   (128, 32, 4, False, 168), (128, 32, 3, False, 168),
                                                   (64, 32, 4, True, None), (64, 32, 3, True, None),
                                                   (64, 32, 4, False, None), (128, 64, 2, True, 168),
                                                   (128, 64, 3, True, 168)):
        name = (f"copy {block_m}x{block_k} s{stages} weights {'TMA' if tma else 'cp.async'} "
                f"maxnreg {maxnreg or 'default'}")
        forms[name] = functools.partial(pairs_cached, x, packed, block_m, block_k, 4, stages, tma, False, None,
                                        [], maxnreg)
    # both: image tiles through the L1 and 3 programs per multiprocessor
    for stages, carveout, maxnreg in ((3, 44, 168), (3, 58, 168), (2, 44, 168), (2, 58, 168), (3, None, 168)):
        name = f"copy s{stages} image prefetched by ld.global weights TMA carveout {carveout} maxnreg {maxnreg}"
        forms[name] = functools.partial(pairs_cached, x, packed, 128, 32, 4, stages, True, True, carveout, [],
                                        maxnreg)
    time_forms(forms, x, packed, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
