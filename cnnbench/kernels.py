"""Custom GPU kernels that `--rewrite` uses where the library kernels leave time on the table.

Two so far. conv1's block kernel (space_to_depth) makes the blocks of its pairs form
(rewrites.SpaceToDepthConv2d) in one pass over the image. The other is a linear layer on a
single input row (batch 1), optionally followed by ReLU. cuBLAS
runs it as a split-K GEMM plus a reduction kernel, and the ReLU is one more; at batch 1 the layer
is nothing but streaming its weights, so one pass that reads each weight once, multiplies in fp32
and adds the bias and ReLU before its single rounding does the same sum in fewer kernels.

Each weight is read once per forward, so its loads are marked evict-first, leaving the L2 to
data that is read again. On an H200 (batch 1 fp16, compiled and graphed) the forward's p50 went
from 0.0884 to 0.0853 ms in one process (docs/speed-steps.md); which reuse that kept is not isolated.

On Hopper and later, with Triton 3.3 or newer, each launch is a programmatic dependent launch:
the layer's programs start while the layer before finishes, load their first weights (which
nothing running writes), then wait for it before reading its output. The three FC layers no longer
wait in turn for the one before to drain and the next to launch; on an H200 the graphed forward
went from 0.0837 to 0.0766 ms in the plain loop.

The kernels are Triton's. Where Triton cannot run (no triton package, no CUDA tensor, no
torch.library.custom_op), `kernel_unavailable()` says why, the linear layer stays the plain
F.linear form and conv1 the space-to-depth form; the rewrite's run-time check covers both and
records which ran.
"""

import torch
import torch.nn.functional as F

from .device import hopper_or_later, on_device

try:
    import triton
    import triton.language as tl
except ImportError:          # CPU-only builds of PyTorch ship without Triton
    triton = None
try:
    from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait
except ImportError:          # no Triton, or one before 3.3: every launch waits for the one before
    gdc_launch_dependents = gdc_wait = None


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

    @triton.jit
    def _weight_tile(w_ptr, row_start, row_ok, cols, in_features):
        """A (rows, cols) tile of the weights, zero past the ends; read once per forward, so evicted first."""
        return tl.load(w_ptr + row_start[:, None] + cols[None, :], mask=row_ok[:, None] & (cols < in_features)[None, :],
                       other=0.0, eviction_policy="evict_first")

    @triton.autotune(configs=ROW_CONFIGS, key=["out_features", "in_features"])
    @triton.jit
    def _linear_row_kernel(x_ptr, w_ptr, b_ptr, y_ptr, out_features, in_features, RELU: tl.constexpr,
                           PDL: tl.constexpr, BLOCK_OUT: tl.constexpr, BLOCK_IN: tl.constexpr):
        rows = tl.program_id(0) * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
        row_ok = rows < out_features
        row_start = rows.to(tl.int64) * in_features
        # weights are read one tile ahead; the first tile before the wait: nothing running writes them
        w = _weight_tile(w_ptr, row_start, row_ok, tl.arange(0, BLOCK_IN), in_features)
        if PDL:
            gdc_launch_dependents()   # the next layer's programs may start on their weights
            gdc_wait()                # the layer before has written x
        acc = tl.zeros((BLOCK_OUT, BLOCK_IN), dtype=tl.float32)
        for start in range(0, in_features, BLOCK_IN):
            cols = start + tl.arange(0, BLOCK_IN)
            w_next = _weight_tile(w_ptr, row_start, row_ok, cols + BLOCK_IN, in_features)
            x = tl.load(x_ptr + cols, mask=cols < in_features, other=0.0)
            acc += w.to(tl.float32) * x.to(tl.float32)[None, :]
            w = w_next
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
    if dependent_launch(x):
        fixed["launch_pdl"] = True
    with on_device(x.device):
        kernel[grid](x, weight, bias, y, out_features, in_features, RELU=relu, PDL="launch_pdl" in fixed, **fixed)
    return y


if triton is not None:
    @triton.jit
    def _space_to_depth_kernel(x_ptr, y_ptr, height, width, blocks_h, blocks_w, pad_top, pad_left,
                               CHANNELS: tl.constexpr, BLOCK_CHANNELS: tl.constexpr, S: tl.constexpr,
                               BLOCK_W: tl.constexpr):
        """One program per image, block row and BLOCK_W blocks of an NHWC image:
        y[n, bh, bw, (i*S + j)*BLOCK_CHANNELS + c] = x[n, bh*S + i - pad_top, bw*S + j - pad_left, c],
        zero outside the image and for c >= CHANNELS. Neighbouring blocks read neighbouring pixels."""
        program = tl.program_id(0)
        image = (program // blocks_h).to(tl.int64)
        block_row = program % blocks_h
        r = tl.arange(0, S * BLOCK_W)
        i = r // BLOCK_W
        block = tl.program_id(1) * BLOCK_W + r % BLOCK_W
        e = tl.arange(0, S * BLOCK_CHANNELS)
        j = e // BLOCK_CHANNELS
        c = e % BLOCK_CHANNELS
        row = block_row * S + i - pad_top
        column = block[:, None] * S + j[None, :] - pad_left
        block_ok = block < blocks_w
        inside = ((block_ok & (row >= 0) & (row < height))[:, None] & (column >= 0) & (column < width)
                  & (c < CHANNELS)[None, :])
        value = tl.load(x_ptr + ((image * height + row[:, None]) * width + column) * CHANNELS + c[None, :],
                        mask=inside, other=0.0)
        out = (((image * blocks_h + block_row) * blocks_w + block[:, None]) * (S * S * BLOCK_CHANNELS)
               + i[:, None] * (S * BLOCK_CHANNELS) + e[None, :])
        tl.store(y_ptr + out, value, mask=block_ok[:, None])


def space_to_depth(x: torch.Tensor, stride: int, pad_top: int, pad_left: int, blocks_h: int, blocks_w: int,
                   block_channels: int) -> torch.Tensor:
    """The channels_last image x (n, c, h, w), zero-padded by pad_top/pad_left (and as far as needed
    on the other sides), as blocks_h x blocks_w blocks of stride x stride pixels: (n, blocks_h, blocks_w,
    stride*stride*block_channels) in (i, j, c) order, channels past c zero. One Triton kernel."""
    x = x.contiguous(memory_format=torch.channels_last)   # a no-op for the rewrite's own input
    n, channels, height, width = x.shape
    y = torch.empty((n, blocks_h, blocks_w, stride * stride * block_channels), dtype=x.dtype, device=x.device)
    block_w = min(64, triton.next_power_of_2(blocks_w))
    with on_device(x.device):
        _space_to_depth_kernel[(n * blocks_h, triton.cdiv(blocks_w, block_w))](
            x, y, height, width, blocks_h, blocks_w, pad_top, pad_left, CHANNELS=channels,
            BLOCK_CHANNELS=block_channels, S=stride, BLOCK_W=block_w)
    return y


def dependent_launch(x: torch.Tensor) -> bool:
    """Whether the kernel on x starts before the kernel before it ends (programmatic dependent launch,
    Hopper and later): its programs read their first weights while the layer before finishes."""
    return gdc_wait is not None and hopper_or_later(x.device)


if not MISSING:
    # An opaque op to torch.compile (it calls the kernel as is) and capturable in a CUDA graph.
    @torch.library.custom_op("cnnbench::linear_row", mutates_args=())
    def _linear_row_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool) -> torch.Tensor:
        return linear_row(x, weight, bias, relu)

    @_linear_row_op.register_fake
    def _(x, weight, bias, relu):
        return x.new_empty((x.shape[0], weight.shape[0]))

    @torch.library.custom_op("cnnbench::space_to_depth", mutates_args=())
    def _space_to_depth_op(x: torch.Tensor, stride: int, pad_top: int, pad_left: int, blocks_h: int, blocks_w: int,
                           block_channels: int) -> torch.Tensor:
        return space_to_depth(x, stride, pad_top, pad_left, blocks_h, blocks_w, block_channels)

    @_space_to_depth_op.register_fake
    def _(x, stride, pad_top, pad_left, blocks_h, blocks_w, block_channels):
        return x.new_empty((x.shape[0], blocks_h, blocks_w, stride * stride * block_channels))


def linear(x: torch.Tensor, weight: torch.Tensor, bias, relu: bool) -> torch.Tensor:
    """F.linear (+ ReLU); a single fp16/bf16 row on CUDA goes through the one-pass kernel (what was
    measured; fp32, and fp32 under autocast, stay with cuBLAS)."""
    if not MISSING and x.is_cuda and x.dtype in HALF and x.dim() == 2 and x.shape[0] == 1 and bias is not None:
        return torch.ops.cnnbench.linear_row(x, weight, bias, relu)
    y = F.linear(x, weight, bias)
    return F.relu(y) if relu else y
