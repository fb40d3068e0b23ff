"""AlexNet's conv2 as one CUDA C++ kernel on Hopper's wgmma (conv2_wgmma.cu).

cuDNN runs conv2 (64 -> 192 channels, 5x5, padding 2, on 27 x 27) with a 256 x 64 tile, so each of
its MMAs reads as many bytes of shared memory as it multiplies. This kernel's MMAs take 64 pixels by
all 192 output channels, the image operand loaded from input rows staged once per tile. On an H200
at batch 4096 in bf16, alone, it took 2.51 ms and 1.69-1.70 J against cuDNN's 3.02-3.12 ms and
2.06-2.25 J (benchmarks/investigations/conv2_wgmma.py, calls 3-4; docs/speed-steps.md).

NVRTC builds it on first use and the driver API launches it (nvrtc.py); a custom op makes it opaque
to torch.compile. Where it cannot run, or the batch is too small to fill the GPU with its 192-pixel
tiles, rewrites.WgmmaConv2d runs cuDNN's convolution, and the run-time check records why.
"""

from pathlib import Path
from typing import Optional

import torch

from . import nvrtc
from .device import on_device

SOURCE = Path(__file__).with_name("conv2_wgmma.cu")
# The convolution the kernel computes: (in, out) channels, kernel, stride, padding; its input's rows and columns
CONV = (64, 192, (5, 5), (1, 1), (2, 2))
SIDE = 27
THREADS = 384                   # 3 warpgroups
TILE = 192                      # output pixels per tile, 64 per warpgroup
TAP_BUFFERS = 5
STAGE_BYTES = 45056             # 13 input rows of 27 pixels of 128 bytes, rounded up to 1024
# alignment, the tap buffers' weights (192 rows of 128 bytes), two buffers of rows, a zero row, and 2
# barriers per tap buffer
SHARED_BYTES = 1024 + TAP_BUFFERS * 192 * 128 + 2 * STAGE_BYTES + 128 + 16 * TAP_BUFFERS
# From 16 images on the kernel took less GPU time than cuDNN's convolution on an H200 (19.9 against
# 24.4 us, replayed); at 8 the two tied, below that cuDNN's took half (its tiles are smaller, ours leave
# multiprocessors idle; docs/speed-steps.md).
MIN_IMAGES = 16
CHANNEL_ORDER = nvrtc.store_order(CONV[1])
KERNEL = nvrtc.CudaKernel(SOURCE, "conv2_wgmma", THREADS, SHARED_BYTES)


def fits(conv: torch.nn.Conv2d) -> bool:
    """Whether conv is the convolution the kernel computes (AlexNet's conv2), bias or not."""
    return ((conv.in_channels, conv.out_channels, tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding))
            == CONV and conv.groups == 1 and tuple(conv.dilation) == (1, 1) and conv.padding_mode == "zeros")


def pack_weights(weight: torch.Tensor) -> torch.Tensor:
    """The (192, 64, 5, 5) weight as the kernel reads it, flat: per tap (row-major over the 5 x 5), the
    shared-memory image of its B operand, 192 rows of 64 input channels (row n: output channel
    CHANNEL_ORDER[n]) whose 16-byte pieces are swizzled by the row."""
    taps = weight[CHANNEL_ORDER.to(weight.device)].permute(2, 3, 0, 1).reshape(25, CONV[1], 8, 8)
    return nvrtc.swizzle_rows(taps).flatten()


@torch.compiler.assume_constant_result     # torch.compile takes the answer as a constant, no graph break
def unavailable(device_index: int, dtype: torch.dtype) -> str:
    """'' where the kernel runs on CUDA device `device_index` (-1: not CUDA) for dtype, else why not."""
    return KERNEL.unavailable(device_index, dtype)


def conv2(x: torch.Tensor, packed: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """conv(x) + bias of the channels_last (n, 64, 27, 27) x, the bias added before rounding: the
    (n, 27, 27, 192) NHWC tensor. `packed` comes from pack_weights; x, packed and bias share x's dtype
    (fp16 or bf16)."""
    x, packed = nvrtc.operands("conv2_wgmma", unavailable(x.device.index if x.is_cuda else -1, x.dtype), x, packed,
                               bias, input_shape=(CONV[0], SIDE, SIDE), packed_elements=25 * CONV[0] * CONV[1],
                               out_channels=CONV[1])
    kernel = KERNEL.on(x.device, x.dtype)
    y = torch.empty((x.shape[0], SIDE, SIDE, CONV[1]), dtype=x.dtype, device=x.device)
    tiles = -(-x.shape[0] * SIDE * SIDE // TILE)
    with on_device(x.device):
        kernel.launch(min(kernel.programs, tiles), x.device, [x, packed, bias, y, x.shape[0]])
    return y


if hasattr(torch.library, "custom_op"):
    @torch.library.custom_op("cnnbench::conv2_wgmma", mutates_args=())
    def _conv2_op(x: torch.Tensor, packed: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        return conv2(x, packed, bias)

    @_conv2_op.register_fake
    def _(x, packed, bias):
        return x.new_empty((x.shape[0], SIDE, SIDE, CONV[1]))
