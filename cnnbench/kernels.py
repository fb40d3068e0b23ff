"""Custom GPU kernels that `--rewrite` uses where the library kernels leave time on the table.

Two, both for batch 1 in fp16/bf16 on CUDA, where the library kernels are latency-bound.

A linear layer on a single input row, optionally followed by ReLU. cuBLAS
runs it as a split-K GEMM plus a reduction kernel, and the ReLU is one more; at batch 1 the layer
is nothing but streaming its weights, so one pass that reads each weight once, multiplies in fp32
and adds the bias and ReLU before its single rounding does the same sum in fewer kernels.

Each weight is read once per forward, so its loads are marked evict-first, leaving the L2 to
data that is read again. On an H200 (batch 1 fp16, compiled and graphed) the forward's p50 went
from 0.0884 to 0.0853 ms in one process (docs/speed-steps.md); which reuse that kept is not isolated.

A stride-1 convolution over a single image, with its bias and ReLU. At batch 1 AlexNet's conv2 to
conv5 are small GEMMs (169 or 729 output pixels) with long reductions (1,600 to 3,456 terms): cuDNN
gives them a few dozen tiles, each walking the whole reduction, so most SMs idle. conv_row splits
the reduction too (split-K): every tile's reduction is cut into SPLITS parts run by programs of
their own, each writes its fp32 partial sum, and the last of them to finish (a per-tile counter)
adds the parts, the bias and the ReLU and writes the output: one kernel, like cuDNN's. The input
is read in place (implicit GEMM over its strides), channels-last or not.

The kernels are Triton's. Where Triton cannot run (no triton package, no CUDA tensor, no
torch.library.custom_op), `kernel_unavailable()` says why and the layer keeps its
library form (F.linear, cuDNN); the rewrite's run-time check covers both.
"""

from typing import List, Optional

import torch
import torch.nn.functional as F

try:
    import triton
    import triton.language as tl
except ImportError:          # CPU-only builds of PyTorch ship without Triton
    triton = None


def _missing() -> str:
    if triton is None:
        return "triton is not installed"
    if not hasattr(torch.library, "custom_op"):
        return f"torch {torch.__version__} has no torch.library.custom_op"
    return ""


# Decided once at import: forward() then only asks where its input is, which torch.compile traces.
MISSING = _missing()
HALF = (torch.float16, torch.bfloat16)


def kernel_unavailable(x: torch.Tensor) -> str:
    """'' when the Triton kernels run on x, else why not."""
    if MISSING:
        return MISSING
    if not x.is_cuda:
        return f"input is on {x.device.type}, not CUDA"
    if x.dtype not in HALF:
        return f"input is {str(x.dtype).replace('torch.', '')}, not fp16/bf16"
    return ""


if triton is not None:
    # Few rows per program and long rows per step: enough programs to keep every SM's loads in
    # flight, 16-byte vector loads along the row.
    ROW_CONFIGS = [triton.Config({"BLOCK_OUT": o, "BLOCK_IN": k}, num_warps=w)
                   for o, k, w in ((4, 512, 4), (8, 512, 4), (4, 1024, 4), (8, 1024, 8), (16, 256, 4), (16, 512, 8))]

    @triton.autotune(configs=ROW_CONFIGS, key=["out_features", "in_features"])
    @triton.jit
    def _linear_row_kernel(x_ptr, w_ptr, b_ptr, y_ptr, out_features, in_features, RELU: tl.constexpr,
                           BLOCK_OUT: tl.constexpr, BLOCK_IN: tl.constexpr):
        rows = tl.program_id(0) * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
        row_ok = rows < out_features
        row_start = rows.to(tl.int64) * in_features
        acc = tl.zeros((BLOCK_OUT, BLOCK_IN), dtype=tl.float32)
        for start in range(0, in_features, BLOCK_IN):
            cols = start + tl.arange(0, BLOCK_IN)
            col_ok = cols < in_features
            w = tl.load(w_ptr + row_start[:, None] + cols[None, :], mask=row_ok[:, None] & col_ok[None, :], other=0.0,
                        eviction_policy="evict_first")
            x = tl.load(x_ptr + cols, mask=col_ok, other=0.0)
            acc += w.to(tl.float32) * x.to(tl.float32)[None, :]
        y = tl.sum(acc, axis=1) + tl.load(b_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
        if RELU:
            y = tl.maximum(y, 0.0)
        tl.store(y_ptr + rows, y.to(y_ptr.dtype.element_ty), mask=row_ok)


def linear_row(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool,
               config=None) -> torch.Tensor:
    """(relu of) x @ weight.T + bias for x of shape (1, in_features), in one Triton kernel.

    The autotuner picks the block sizes; `config` (one of ROW_CONFIGS) fixes them instead.
    """
    x, weight = x.contiguous(), weight.contiguous()
    out_features, in_features = weight.shape
    y = torch.empty((1, out_features), dtype=x.dtype, device=x.device)
    kernel, fixed = _linear_row_kernel, {}
    if config is not None:
        kernel, fixed = _linear_row_kernel.fn, dict(config.kwargs, num_warps=config.num_warps)
    grid = lambda meta: (triton.cdiv(out_features, meta["BLOCK_OUT"]),)   # noqa: E731
    kernel[grid](x, weight, bias, y, out_features, in_features, RELU=relu, **fixed)
    return y


if not MISSING:
    # An opaque op to torch.compile (it calls the kernel as is) and capturable in a CUDA graph.
    @torch.library.custom_op("cnnbench::linear_row", mutates_args=())
    def _linear_row_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool) -> torch.Tensor:
        return linear_row(x, weight, bias, relu)

    @_linear_row_op.register_fake
    def _(x, weight, bias, relu):
        return x.new_empty((x.shape[0], weight.shape[0]))


COUNTERS = 16384     # per-tile arrival counters a convolution layer keeps: tiles of the largest conv_row


if triton is not None:
    # Small tiles and a split reduction: at batch 1 there are few output tiles, so the programs
    # come from the reduction. BLOCK_K divides the layer's input channels (one kernel tap per step).
    CONV_CONFIGS = [triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": 64, "SPLITS": splits}, num_warps=4,
                                  num_stages=3)
                    for m, n in ((32, 64), (64, 64)) for splits in (4, 8, 16)]

    @triton.autotune(configs=CONV_CONFIGS, key=["channels", "height", "width", "out_channels", "kernel_h", "kernel_w"])
    @triton.jit
    def _conv_row_kernel(x_ptr, w_ptr, b_ptr, y_ptr, partial_ptr, counter_ptr,
                         channels, height, width, out_channels, out_h, out_w, kernel_h, kernel_w, pad_h, pad_w,
                         x_sc, x_sh, x_sw, w_sn, w_sc, w_sh, w_sw, y_sc, y_sh, y_sw, SPLITS,
                         HAS_BIAS: tl.constexpr, RELU: tl.constexpr,
                         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        tile_m, tile_n, split = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        pixels = tile_m * BLOCK_M + tl.arange(0, BLOCK_M)
        outs = tile_n * BLOCK_N + tl.arange(0, BLOCK_N)
        pixel_ok, out_ok = pixels < out_h * out_w, outs < out_channels
        oh, ow = pixels // out_w, pixels % out_w
        lanes = tl.arange(0, BLOCK_K)
        # the reduction runs over (tap, channel block); this program takes one contiguous share of it
        channel_blocks = channels // BLOCK_K
        steps = kernel_h * kernel_w * channel_blocks
        per_split = tl.cdiv(steps, SPLITS)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for step in range(split * per_split, tl.minimum(steps, split * per_split + per_split)):
            tap, c0 = step // channel_blocks, (step % channel_blocks) * BLOCK_K
            r, s = tap // kernel_w, tap % kernel_w
            ih, iw = oh - pad_h + r, ow - pad_w + s
            inside = pixel_ok & (ih >= 0) & (ih < height) & (iw >= 0) & (iw < width)
            a = tl.load(x_ptr + ih[:, None] * x_sh + iw[:, None] * x_sw + (c0 + lanes)[None, :] * x_sc,
                        mask=inside[:, None], other=0.0)
            b = tl.load(w_ptr + outs[None, :] * w_sn + r * w_sh + s * w_sw + (c0 + lanes)[:, None] * w_sc,
                        mask=out_ok[None, :], other=0.0)
            acc = tl.dot(a, b, acc)
        tiles = tl.num_programs(0) * tl.num_programs(1)
        tile = tile_m * tl.num_programs(1) + tile_n
        cell = tl.arange(0, BLOCK_M)[:, None] * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]
        tl.store(partial_ptr + (split * tiles + tile) * (BLOCK_M * BLOCK_N) + cell, acc)
        tl.debug_barrier()      # every thread's part is written before the tile's counter moves
        if tl.atomic_add(counter_ptr + tile, 1, sem="acq_rel") == SPLITS - 1:    # the last part in
            total = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
            for part in range(0, SPLITS):      # fixed order: the same sum whichever program finishes last
                total += tl.load(partial_ptr + (part * tiles + tile) * (BLOCK_M * BLOCK_N) + cell,
                                 cache_modifier=".cg")
            if HAS_BIAS:
                total += tl.load(b_ptr + outs, mask=out_ok, other=0.0).to(tl.float32)[None, :]
            if RELU:
                total = tl.maximum(total, 0.0)
            tl.store(y_ptr + oh[:, None] * y_sh + ow[:, None] * y_sw + outs[None, :] * y_sc,
                     total.to(y_ptr.dtype.element_ty), mask=pixel_ok[:, None] & out_ok[None, :])
            tl.atomic_xchg(counter_ptr + tile, 0)     # ready for the next call


def _out_size(x: torch.Tensor, weight: torch.Tensor, padding) -> tuple:
    """(height, width) of a stride-1 convolution's output."""
    return x.shape[2] + 2 * padding[0] - weight.shape[2] + 1, x.shape[3] + 2 * padding[1] - weight.shape[3] + 1


def _conv_out(x: torch.Tensor, weight: torch.Tensor, padding) -> torch.Tensor:
    """The output of a stride-1 convolution of one image x, in x's memory format."""
    shape = (1, weight.shape[0], *_out_size(x, weight, padding))
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.empty(shape, dtype=x.dtype, device=x.device,
                       memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def conv_row(x: torch.Tensor, weight: torch.Tensor, bias, counters: torch.Tensor, padding, relu: bool,
             config=None) -> torch.Tensor:
    """(relu of) conv2d(x, weight, bias, stride 1, padding) for one image, split-K in one Triton kernel.

    `counters`: int32 zeros, at least one per output tile, left zero again. The autotuner picks
    tiles and splits; `config` (one of CONV_CONFIGS) fixes them instead.
    """
    y = _conv_out(x, weight, padding)
    _, channels, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    out_h, out_w = y.shape[-2:]
    kernel, fixed = _conv_row_kernel, {}
    if config is not None:
        kernel, fixed = _conv_row_kernel.fn, dict(config.kwargs, num_warps=config.num_warps,
                                                  num_stages=config.num_stages)

    def grid(meta):
        return (triton.cdiv(out_h * out_w, meta["BLOCK_M"]), triton.cdiv(out_channels, meta["BLOCK_N"]),
                meta["SPLITS"])

    parts = torch.empty(_partial_sums(out_h * out_w, out_channels, [config] if config else CONV_CONFIGS),
                        dtype=torch.float32, device=x.device)
    kernel[grid](x, weight, weight if bias is None else bias, y, parts, counters,
                 channels, height, width, out_channels, out_h, out_w, kernel_h, kernel_w, padding[0], padding[1],
                 *_strides(x), *weight.stride(), *_strides(y), HAS_BIAS=bias is not None, RELU=relu, **fixed)
    return y


def _partial_sums(pixels: int, out_channels: int, configs) -> int:
    """fp32 partial sums the largest of these configs writes: one tile of them per split and tile."""
    return max(c.kwargs["SPLITS"] * triton.cdiv(pixels, c.kwargs["BLOCK_M"]) * triton.cdiv(out_channels, c.kwargs["BLOCK_N"])
               * c.kwargs["BLOCK_M"] * c.kwargs["BLOCK_N"] for c in configs)


def _tiles(pixels: int, out_channels: int) -> int:
    """Output tiles of the config with the most of them: how many counters a layer needs."""
    return max(triton.cdiv(pixels, c.kwargs["BLOCK_M"]) * triton.cdiv(out_channels, c.kwargs["BLOCK_N"])
               for c in CONV_CONFIGS)


def _strides(t: torch.Tensor) -> tuple:
    """(channel, row, column) strides of a (1, C, H, W) tensor."""
    return t.stride(1), t.stride(2), t.stride(3)


def conv_row_unavailable(x: torch.Tensor, weight: torch.Tensor, stride, padding, dilation, groups: int,
                         counters: torch.Tensor) -> str:
    """'' when conv_row runs this convolution (with these counters), else why not."""
    reason = kernel_unavailable(x)
    if reason:
        return reason
    if x.shape[0] != 1:
        return f"batch {x.shape[0]}, not 1"
    if tuple(stride) != (1, 1) or tuple(dilation) != (1, 1) or groups != 1:
        return "not a plain stride-1 convolution"
    if x.shape[1] % 64:
        return f"{x.shape[1]} input channels, not a multiple of 64"
    out_h, out_w = _out_size(x, weight, padding)
    tiles = _tiles(out_h * out_w, weight.shape[0])
    if tiles > counters.numel():
        return f"{tiles} output tiles, more than its {counters.numel()} counters"
    return ""


if not MISSING:
    @torch.library.custom_op("cnnbench::conv_row", mutates_args=())   # its counters end as they began
    def _conv_row_op(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], counters: torch.Tensor,
                     padding: List[int], relu: bool) -> torch.Tensor:
        return conv_row(x, weight, bias, counters, padding, relu)

    @_conv_row_op.register_fake
    def _(x, weight, bias, counters, padding, relu):
        return _conv_out(x, weight, padding)


def conv(x: torch.Tensor, weight: torch.Tensor, bias, counters: torch.Tensor, padding, stride, dilation,
         groups: int, relu: bool):
    """conv_row's output for a convolution it runs, else None (the caller's library form runs it)."""
    if conv_row_unavailable(x, weight, stride, padding, dilation, groups, counters):
        return None
    return torch.ops.cnnbench.conv_row(x, weight, bias, counters, list(padding), relu)


def linear(x: torch.Tensor, weight: torch.Tensor, bias, relu: bool) -> torch.Tensor:
    """F.linear (+ ReLU); a single fp16/bf16 row on CUDA goes through the one-pass kernel (what was
    measured; fp32, and fp32 under autocast, stay with cuBLAS)."""
    if not MISSING and x.is_cuda and x.dtype in HALF and x.dim() == 2 and x.shape[0] == 1 and bias is not None:
        return torch.ops.cnnbench.linear_row(x, weight, bias, relu)
    y = F.linear(x, weight, bias)
    return F.relu(y) if relu else y
