"""Custom GPU kernels that `--rewrite` uses where the library kernels leave time on the table.

Three so far. conv_pairs is conv1's pairs form (rewrites.SpaceToDepthConv2d): an implicit GEMM that
reads the image in place, two output pixels per row, so no blocked copy of the image is made and
the reduction runs over the 45 elements of each input row the pair's windows cover (48 with the
alignment), not over padded blocks; it can also store the row part of the 3x3, stride-2 max-pool
that follows (row_max), so it writes half as much. max_pool is a max-pool over an NHWC image with
the bias and ReLU after it: on AlexNet's pools on an H200, PyTorch's NHWC max-pool moved 0.4-0.7
TB/s, and in a compiled forward it took 456 us for pool2 and pool5 where inductor's fused kernels
took 629 (docs/speed-steps.md). The third is a linear layer on a single input row (batch 1),
optionally followed by ReLU. cuBLAS runs it as a split-K GEMM plus a reduction kernel,
and the ReLU is one more; at batch 1 the layer is nothing but streaming its weights, so one pass that
reads each weight once, multiplies in fp32 and adds the bias and ReLU before its single rounding
does the same sum in fewer kernels.

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
F.linear form, the pools PyTorch's and conv1 the space-to-depth form (also where Triton has no host
tensor descriptors, which conv_pairs' weight tiles use: `pairs_unavailable()`); the rewrite's
run-time check covers each and records which ran.
"""

import ctypes
from typing import Optional

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
try:
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:          # no Triton, or one without host-side tensor maps (TMA): conv1 keeps space-to-depth
    TensorDescriptor = None


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


def pairs_unavailable(x: torch.Tensor) -> str:
    """'' when conv_pairs runs on x, else why not: it also needs Triton's tensor maps (TMA)."""
    return kernel_unavailable(x) or ("" if TensorDescriptor is not None
                                     else f"triton {triton.__version__} has no host tensor descriptors")


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
    # Tiles over all output channels of a pair, each program reading its input rows once: the fastest
    # of nine tried on an H200 at batch 4096 with cp.async gathers (2.25-2.27 ms in three calls; 256
    # rows 2.43-3.14, 64 rows 3.08, K steps of 16 2.63). Fixed, not autotuned: the autotuner would
    # tune at the first batch it sees, the run-time check's two images, and keep that choice for every
    # batch size. With the L1 loads, 3 stages of weight tiles and 168 registers per thread (3 programs
    # per multiprocessor; 2 at the 194 the compiler takes otherwise) were the fastest of the forms tried:
    # 2.179 ms against 2.309 for the cp.async form in the same call (conv_pairs_l1.py).
    PAIR_CONFIG = triton.Config({"BLOCK_M": 128, "BLOCK_K": 32}, num_warps=4, num_stages=3, maxnreg=168)

    @triton.jit
    def _span_starts(out_row, column, out_height, height, width, pad_top, STRIDE: tl.constexpr,
                     CHANNELS: tl.constexpr, STEP: tl.constexpr, START_SHIFT: tl.constexpr):
        """Where the spans that GEMM rows read start, for output row `out_row` (image, row) and span
        `column` (one every STEP elements, from START_SHIFT before the row): the span's top input row,
        the elements per input row, the span's first element in its row and in the NHWC image."""
        top = out_row % out_height * STRIDE - pad_top
        image = (out_row // out_height).to(tl.int64)
        row_elements = width * CHANNELS
        start = column * STEP - START_SHIFT
        return top, row_elements, start, (image * height + top) * row_elements + start

    @triton.jit
    def _image_tile(x_ptr, first, top, start, m_ok, k_start, k, height, row_elements, ROW: tl.constexpr,
                    KERNEL_HEIGHT: tl.constexpr):
        """conv_pairs' (BLOCK_M, BLOCK_K) tile of gathered image rows for K elements k_start + k."""
        kernel_row = (k_start + k) // ROW
        within = (k_start + k) % ROW
        in_row = top[:, None] + kernel_row[None, :]
        column = start[:, None] + within[None, :]
        ok = (m_ok[:, None] & (in_row >= 0) & (in_row < height) & (kernel_row < KERNEL_HEIGHT)[None, :]
              & (column >= 0) & (column < row_elements))
        return tl.load(x_ptr + first[:, None] + (kernel_row * row_elements + within)[None, :], mask=ok, other=0.0)

    @triton.jit
    def _conv_pairs_kernel(x_ptr, w_desc, b_ptr, y_ptr, rows, out_height, out_width, pairs, height, width, pad_top,
                           STRIDE: tl.constexpr, CHANNELS: tl.constexpr, KERNEL_HEIGHT: tl.constexpr,
                           ROW: tl.constexpr, START_SHIFT: tl.constexpr, N_OUT: tl.constexpr, BLOCK_N: tl.constexpr,
                           HAS_BIAS: tl.constexpr, ALIGNED: tl.constexpr, ROW_MAX: tl.constexpr,
                           BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr):
        """Implicit GEMM over an NHWC image: a GEMM row is one pair of neighbouring output pixels
        (image, output row, pair); its K runs over KERNEL_HEIGHT input rows of ROW elements each,
        the contiguous span of one row that both pixels' windows cover (from START_SHIFT elements
        before the pair's first column, so that every span starts 16-byte aligned when ALIGNED).
        The pair's two pixels are neighbours in the NHWC output: its row of the accumulator is one
        contiguous span of y, and where the width is odd the last pair's second pixel is not stored.

        Neighbouring pairs and output rows read the same image bytes about 5.5 times over. Each
        step's image tile is loaded into registers through the L1, which serves most of that reuse,
        one step ahead of its MMA; the weight tiles come by TMA (w_desc). Copied straight to shared
        memory (cp.async bypasses the L1), the gathers kept the L2's tag lookups at 88% of their peak.

        With ROW_MAX (1), the kernel stores the row part of the 3-wide, stride-2 max-pool that follows:
        output column p is the max of pixels 2p, 2p + 1 (pair p) and 2p + 2 (the next GEMM row's first),
        so the output is half as wide. Tiles then overlap by one row: a tile's last row only feeds the
        one before it."""
        m = tl.program_id(0) * (BLOCK_M - ROW_MAX) + tl.arange(0, BLOCK_M)
        m_ok = m < rows
        pair = m % pairs
        top, row_elements, start, first = _span_starts(m // pairs, pair, out_height, height, width, pad_top, STRIDE,
                                                       CHANNELS, 2 * STRIDE * CHANNELS, START_SHIFT)
        if ALIGNED:
            first = tl.multiple_of(first, 8)
        k = tl.arange(0, BLOCK_K)
        cols = tl.arange(0, BLOCK_N)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        a = _image_tile(x_ptr, first, top, start, m_ok, 0, k, height, row_elements, ROW, KERNEL_HEIGHT)
        for k_start in range(0, KERNEL_HEIGHT * ROW, BLOCK_K):
            a_next = _image_tile(x_ptr, first, top, start, m_ok, k_start + BLOCK_K, k, height, row_elements, ROW,
                                 KERNEL_HEIGHT)     # past the last kernel row: all masked, nothing read
            acc = tl.dot(a, w_desc.load([k_start, 0]), acc)
            a = a_next
        if HAS_BIAS:
            acc += tl.load(b_ptr + cols, mask=cols < N_OUT, other=0.0).to(tl.float32)[None, :]
        out_row = (m // pairs).to(tl.int64)                    # (image, output row)
        if ROW_MAX:     # BLOCK_N == N_OUT: columns u * N_OUT // 2 + o are channel o of the pair's pixel u
            pixels = tl.reshape(acc.to(y_ptr.dtype.element_ty), (BLOCK_M, 2, N_OUT // 2))
            first, second = tl.split(tl.permute(pixels, (0, 2, 1)))
            local = tl.arange(0, BLOCK_M)
            below = tl.broadcast_to(tl.minimum(local + 1, BLOCK_M - 1)[:, None], (BLOCK_M, N_OUT // 2))
            pooled = tl.maximum(tl.maximum(first, second), tl.gather(first, below, 0))
            channels = tl.arange(0, N_OUT // 2)
            tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + (pair[:, None] * (N_OUT // 2)
                     + channels[None, :]), pooled,
                     mask=(m_ok & (local < BLOCK_M - 1) & (pair < out_width))[:, None])
        else:
            within_row = pair[:, None] * N_OUT + cols[None, :]     # element of the output row: pixel 2 * pair on
            tl.store(y_ptr + out_row[:, None] * (out_width * (N_OUT // 2)) + within_row,
                     acc.to(y_ptr.dtype.element_ty),
                     mask=m_ok[:, None] & (cols < N_OUT)[None, :] & (within_row < out_width * (N_OUT // 2)))


def pair_geometry(stride: int, kernel_width: int, pad_left: int, channels: int) -> tuple:
    """(ROW, START_SHIFT) of conv_pairs: a pair's two windows span (stride + kernel_width) pixels of a
    row; the span read starts START_SHIFT elements before the pair's first column, a multiple of 8
    elements where 2 * stride * channels is one, and ROW, its length, is a multiple of 16 (tensor cores)."""
    lead = (-pad_left * channels) % 8 if (2 * stride * channels) % 8 == 0 else 0
    return -(-((stride + kernel_width) * channels + lead) // 16) * 16, pad_left * channels + lead


def pack_pairs(weight: torch.Tensor, stride: int, pad_left: int) -> torch.Tensor:
    """The (out, c, kh, kw) weight as conv_pairs' (K, BLOCK_N) GEMM matrix, K a multiple of 64: row
    a*ROW + e holds input row a's element e of the span, column u*out + o output channel o of the
    pair's pixel u (pixel 1's window starts `stride` pixels after pixel 0's); zero elsewhere."""
    out_channels, channels, kernel_height, kernel_width = weight.shape
    row, shift = pair_geometry(stride, kernel_width, pad_left, channels)
    lead = shift - pad_left * channels
    taps = weight.permute(0, 2, 3, 1)      # (out, kh, kw, c): a row's taps in memory order
    pixels = [F.pad(taps, (0, 0, u * stride, (1 - u) * stride)) for u in (0, 1)]   # (out, kh, stride + kw, c)
    span = torch.cat(pixels).reshape(2 * out_channels, kernel_height, -1)
    span = F.pad(span, (lead, row - lead - span.shape[-1]))
    packed = span.permute(1, 2, 0).reshape(kernel_height * row, 2 * out_channels)
    block_n = max(16, 1 << (2 * out_channels - 1).bit_length())   # a power of two, as tl.arange needs
    return F.pad(packed, (0, block_n - 2 * out_channels, 0, -packed.shape[0] % 64)).contiguous()


def row_max_width(out_width: int) -> int:
    """How many 3-wide windows at stride 2 a row of out_width pixels holds: conv_pairs' row_max width."""
    return (out_width - 3) // 2 + 1


def conv_pairs(x: torch.Tensor, packed: torch.Tensor, bias, stride: int, kernel_height: int, kernel_width: int,
               pad_top: int, pad_left: int, out_height: int, out_width: int, out_channels: int,
               row_max: bool = False, config=None) -> torch.Tensor:
    """A strided convolution of the channels_last image x, two neighbouring output pixels per GEMM
    row, in one Triton kernel that reads the image in place. `packed` comes from pack_pairs. Returns
    the (n, out_height, out_width, out_channels) NHWC output image, contiguous; with `row_max`, the
    max over each row's 3-wide windows at stride 2 instead, row_max_width(out_width) of them (the row
    part of a 3x3, stride-2 max-pool; 2 * out_channels must be a power of two of 16 or more).
    `config` (a triton.Config of BLOCK_M and BLOCK_K) replaces PAIR_CONFIG's tiles."""
    x = x.contiguous(memory_format=torch.channels_last)   # a no-op for the rewrite's own input
    n, channels, height, width = x.shape
    row, shift = pair_geometry(stride, kernel_width, pad_left, channels)
    if row_max and packed.shape[1] != 2 * out_channels:
        raise ValueError(f"conv_pairs: row_max needs 2 * out_channels ({2 * out_channels}) to be a power of two >= 16")
    pairs = -(-out_width // 2)
    stored_width = row_max_width(out_width) if row_max else out_width
    y = torch.empty((n, out_height, stored_width, out_channels), dtype=x.dtype, device=x.device)
    rows = n * out_height * pairs
    # every span starts on a multiple of 8 elements: pairs step by one (pair_geometry's lead), rows and
    # the image by the others
    aligned = (2 * stride * channels) % 8 == 0 and (width * channels) % 8 == 0 and x.data_ptr() % 16 == 0
    config = config or PAIR_CONFIG
    grid = (triton.cdiv(rows, config.kwargs["BLOCK_M"] - row_max),)
    weights = TensorDescriptor.from_tensor(packed, [config.kwargs["BLOCK_K"], packed.shape[1]])
    with on_device(x.device):
        compiled = _conv_pairs_kernel[grid](
            x, weights, packed if bias is None else bias, y, rows, out_height, stored_width, pairs, height, width,
            pad_top, STRIDE=stride, CHANNELS=channels, KERNEL_HEIGHT=kernel_height, ROW=row, START_SHIFT=shift,
            N_OUT=2 * out_channels, BLOCK_N=packed.shape[1], HAS_BIAS=bias is not None, ALIGNED=aligned,
            ROW_MAX=int(row_max),
            num_warps=config.num_warps, num_stages=config.num_stages, maxnreg=config.maxnreg, **config.kwargs)
    if x.is_cuda:
        _leave_l1(compiled, x.device, config)
    return y


_CARVED = set()
_PREFERRED_SHARED_MEMORY_CARVEOUT = 9    # CUfunction_attribute


def _leave_l1(compiled, device: torch.device, config) -> None:
    """Ask the driver for only the shared memory that the programs the registers allow per
    multiprocessor need, leaving the rest to the L1 that serves conv_pairs' image reuse. Triton asks
    for the most shared memory for every kernel, which leaves the L1 about 23 KB on an H200. Set
    after the kernel's first launch (which loads it), once per kernel; a hint the driver may refuse.
    On an H200 at batch 4096 it took the kernel from 2.250 to 2.179 ms (benchmarks/investigations/
    conv_pairs_l1.py)."""
    handle = getattr(compiled, "function", None)
    if handle is None or handle in _CARVED:
        return
    _CARVED.add(handle)
    properties = torch.cuda.get_device_properties(device)
    programs = properties.regs_per_multiprocessor // ((config.maxnreg or 255) * 32 * config.num_warps)
    needed = programs * (compiled.metadata.shared + 1024)     # the driver keeps 1 KB per program
    percent = min(100, -(-100 * needed // properties.shared_memory_per_multiprocessor))
    try:
        ctypes.CDLL("libcuda.so.1").cuFuncSetAttribute(ctypes.c_void_p(handle), _PREFERRED_SHARED_MEMORY_CARVEOUT,
                                                        ctypes.c_int(percent))
    except OSError:     # no driver library by that name: the carve-out stays as Triton set it
        pass


if triton is not None:
    @triton.jit
    def _max_pool_kernel(x_ptr, b_ptr, y_ptr, pixels, height, width, out_height, out_width, channels,
                         y_image_stride, y_pixel_stride, y_channel_stride, KERNEL_HEIGHT: tl.constexpr,
                         KERNEL_WIDTH: tl.constexpr, STRIDE_HEIGHT: tl.constexpr, STRIDE_WIDTH: tl.constexpr,
                         BIAS: tl.constexpr, RELU: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        """The max over each window of an NHWC image, no padding, then (BIAS) the channel's bias added in
        fp32 and (RELU) the ReLU before the one rounding; a program takes BLOCK_P output pixels (over
        image, row and column) by BLOCK_C channels, each tap one load along the channels; the caches
        serve the overlap between neighbouring windows. The output's strides say its layout (NHWC, or
        NCHW for a flatten that follows). NaN wins, as in PyTorch's pool and ReLU."""
        p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
        c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        ok = (p < pixels)[:, None] & (c < channels)[None, :]
        pixel = p % (out_height * out_width)
        column = pixel % out_width
        row = pixel // out_width
        image = (p // (out_height * out_width)).to(tl.int64)
        first = ((image * height + row * STRIDE_HEIGHT) * width + column * STRIDE_WIDTH) * channels
        peak = tl.full((BLOCK_P, BLOCK_C), float("-inf"), y_ptr.dtype.element_ty)
        for i in tl.static_range(KERNEL_HEIGHT):
            for j in tl.static_range(KERNEL_WIDTH):
                tap = tl.load(x_ptr + first[:, None] + (i * width + j) * channels + c[None, :], mask=ok,
                              other=float("-inf"))
                peak = tl.maximum(peak, tap, propagate_nan=tl.PropagateNan.ALL)
        out = peak
        if BIAS or RELU:
            out = out.to(tl.float32)
            if BIAS:
                out += tl.load(b_ptr + c, mask=c < channels, other=0.0).to(tl.float32)[None, :]
            if RELU:
                out = tl.maximum(out, 0.0, propagate_nan=tl.PropagateNan.ALL)
            out = out.to(y_ptr.dtype.element_ty)
        tl.store(y_ptr + image[:, None] * y_image_stride + pixel.to(tl.int64)[:, None] * y_pixel_stride
                 + c[None, :] * y_channel_stride, out, mask=ok)


def max_pool_nhwc(x: torch.Tensor, kernel_size: tuple, stride: tuple, bias: Optional[torch.Tensor] = None,
                  relu: bool = False, flatten_order: bool = False, *, tile: tuple = (32, 64, 4)) -> torch.Tensor:
    """max_pool2d of the channels_last image x (no padding, dilation or ceil mode), then the per-channel
    bias and the ReLU where asked, in one Triton kernel, with the bits of those steps in PyTorch (the
    bias is added to the pooled value in fp32 and rounded once, as x + bias rounds). Returns the
    (n, out_height, out_width, channels) NHWC output, contiguous; with flatten_order the
    (n, channels, out_height, out_width) NCHW output, contiguous, which torch.flatten reads as it is.
    `tile` is (pixels, channels, warps) per program: 32 pixels by 64 channels in 4 warps were the fastest
    of five on an H200 for AlexNet's pools (benchmarks/investigations/pool_kernels.py, with the bias and
    ReLU in the kernel too; pool_tiles.py tries more)."""
    x = x.contiguous(memory_format=torch.channels_last)     # what the kernel reads (a no-op where it is)
    n, channels, height, width = x.shape
    (kernel_height, kernel_width), (stride_height, stride_width) = kernel_size, stride
    out_height, out_width = (height - kernel_height) // stride_height + 1, (width - kernel_width) // stride_width + 1
    if flatten_order:
        y = torch.empty((n, channels, out_height, out_width), dtype=x.dtype, device=x.device)
        strides = (channels * out_height * out_width, 1, out_height * out_width)
    else:
        y = torch.empty((n, out_height, out_width, channels), dtype=x.dtype, device=x.device)
        strides = (out_height * out_width * channels, channels, 1)
    pixels = n * out_height * out_width
    block_p, block_c, warps = tile
    with on_device(x.device):
        _max_pool_kernel[(triton.cdiv(pixels, block_p), triton.cdiv(channels, block_c))](
            x, x if bias is None else bias, y, pixels, height, width, out_height, out_width, channels, *strides,
            KERNEL_HEIGHT=kernel_height, KERNEL_WIDTH=kernel_width, STRIDE_HEIGHT=stride_height,
            STRIDE_WIDTH=stride_width, BIAS=bias is not None, RELU=relu, BLOCK_P=block_p, BLOCK_C=block_c,
            num_warps=warps)
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

    @torch.library.custom_op("cnnbench::conv_pairs", mutates_args=())
    def _conv_pairs_op(x: torch.Tensor, packed: torch.Tensor, bias: Optional[torch.Tensor], stride: int,
                       kernel_height: int, kernel_width: int, pad_top: int, pad_left: int, out_height: int,
                       out_width: int, out_channels: int, row_max: bool) -> torch.Tensor:
        return conv_pairs(x, packed, bias, stride, kernel_height, kernel_width, pad_top, pad_left, out_height,
                          out_width, out_channels, row_max)

    @_conv_pairs_op.register_fake
    def _(x, packed, bias, stride, kernel_height, kernel_width, pad_top, pad_left, out_height, out_width,
          out_channels, row_max):
        return x.new_empty((x.shape[0], out_height, row_max_width(out_width) if row_max else out_width, out_channels))

    # Through an op even in eager: the profiler gives a layer only the kernels launched inside an op.
    @torch.library.custom_op("cnnbench::max_pool", mutates_args=())
    def _max_pool_op(x: torch.Tensor, kernel_height: int, kernel_width: int, stride_height: int,
                     stride_width: int, bias: Optional[torch.Tensor] = None, relu: bool = False,
                     flatten_order: bool = False) -> torch.Tensor:
        return max_pool_nhwc(x, (kernel_height, kernel_width), (stride_height, stride_width), bias, relu,
                             flatten_order)

    @_max_pool_op.register_fake
    def _(x, kernel_height, kernel_width, stride_height, stride_width, bias=None, relu=False, flatten_order=False):
        n, channels, height, width = x.shape
        out_height, out_width = (height - kernel_height) // stride_height + 1, (width - kernel_width) // stride_width + 1
        return x.new_empty((n, channels, out_height, out_width) if flatten_order
                           else (n, out_height, out_width, channels))


def linear(x: torch.Tensor, weight: torch.Tensor, bias, relu: bool) -> torch.Tensor:
    """F.linear (+ ReLU); a single fp16/bf16 row on CUDA with weights of its dtype goes through the
    one-pass kernel (what was measured); fp32, and the fp32 weights under autocast, stay with cuBLAS."""
    if (not MISSING and x.is_cuda and x.dtype in HALF and weight.dtype == x.dtype and x.dim() == 2
            and x.shape[0] == 1 and bias is not None):
        return torch.ops.cnnbench.linear_row(x, weight, bias, relu)
    y = F.linear(x, weight, bias)
    return F.relu(y) if relu else y


def nhwc_unavailable(x: torch.Tensor) -> str:
    """'' where the Triton kernels that read NHWC (conv_pairs, max_pool) can run on x, else why not."""
    return kernel_unavailable(x) or ("" if x.is_contiguous(memory_format=torch.channels_last)
                                     else "input not channels_last")


def _max_pool_unavailable(x: torch.Tensor, kernel_size: tuple) -> str:
    """'' where max_pool can run x through the Triton kernel, else why not."""
    return nhwc_unavailable(x) or ("" if x.numel() and x.shape[-2] >= kernel_size[0]
                                   and x.shape[-1] >= kernel_size[1] else "input smaller than the window")


def max_pool_kernel(x: torch.Tensor, kernel_size: tuple) -> str:
    """Which kernel max_pool runs on x in an eager forward (what the run-time check records)."""
    reason = _max_pool_unavailable(x, kernel_size)
    return f"F.max_pool2d ({reason})" if reason else "triton max_pool"


def max_pool(x: torch.Tensor, kernel_size: tuple, stride: tuple, bias=None, relu: bool = False,
             flatten_order: bool = False) -> torch.Tensor:
    """F.max_pool2d(x, kernel_size, stride), no padding, then the per-channel bias and the ReLU where
    asked: max_pool_nhwc where it can run (its output NCHW-contiguous with flatten_order, else
    channels_last); F.max_pool2d and the elementwise steps elsewhere (which says what is wrong with a
    too-small input). Compiled, a single image keeps inductor's fused pool: its kernels are dependent
    launches, so the first FC layer streams its weights while pool5 runs, and on an H200 the
    forward's p50 was 0.076-0.077 ms with them against 0.082-0.083 with the Triton kernel."""
    if _max_pool_unavailable(x, kernel_size) or (torch.compiler.is_compiling() and x.shape[0] == 1):
        y = F.max_pool2d(x, kernel_size, stride)
        y = y if bias is None else y + bias.view(1, -1, 1, 1)
        return F.relu(y) if relu else y
    y = torch.ops.cnnbench.max_pool(x, *kernel_size, *stride, bias, relu, flatten_order)
    return y if flatten_order else y.permute(0, 3, 1, 2)   # channels_last in memory
