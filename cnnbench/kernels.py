"""Custom GPU kernels that `--rewrite` uses where the library kernels leave time on the table.

One so far: a linear layer on a single input row (batch 1), optionally followed by ReLU. cuBLAS
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

The kernel is Triton's. Where Triton cannot run (no triton package, no CUDA tensor, no
torch.library.custom_op), `kernel_unavailable()` says why and the layer stays the plain
F.linear form; the rewrite's run-time check covers both.
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


def linear(x: torch.Tensor, weight: torch.Tensor, bias, relu: bool) -> torch.Tensor:
    """F.linear (+ ReLU); a single fp16/bf16 row on CUDA goes through the one-pass kernel (what was
    measured; fp32, and fp32 under autocast, stay with cuBLAS)."""
    if not MISSING and x.is_cuda and x.dtype in HALF and x.dim() == 2 and x.shape[0] == 1 and bias is not None:
        return torch.ops.cnnbench.linear_row(x, weight, bias, relu)
    y = F.linear(x, weight, bias)
    return F.relu(y) if relu else y
