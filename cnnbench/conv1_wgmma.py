"""AlexNet's conv1, its bias, pool1 and the ReLU as one CUDA C++ kernel on Hopper's wgmma (conv1_wgmma.cu).

Where cuDNN and Triton stop: conv_pairs (kernels.py) gathers its image tiles through the L1 and
issues 48% more multiply-adds than conv1 has; this kernel copies each tile's input rows into shared
memory once, loads its MMA operand from there at any address, and issues 6% more. On an H200 at
batch 4096 in bf16 it took 1.74 ms and 1.26 J against conv_pairs' 2.23 ms and 1.58 J, both without
the pool (docs/speed-steps.md).

NVRTC builds it on first use and the driver API launches it (nvrtc.py); a custom op makes it opaque
to torch.compile and gives the profiler a layer to attribute it to. Where it cannot run,
`unavailable()` says why and conv1 takes the pairs form (rewrites.SpaceToDepthConv2d), as the run-time
check records.
"""

from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from . import kernels, nvrtc
from .device import on_device

SOURCE = Path(__file__).with_name("conv1_wgmma.cu")
# The convolution the kernel computes: (in, out) channels, kernel, stride, padding, and its input size
CONV = (3, 64, (11, 11), (4, 4), (2, 2))
IMAGE = (224, 224)
OUT_SHAPE = (27, 27, 64)        # per image, NHWC: the 3x3, stride-2 max-pool of the 55 x 55 output
ROW_MAX_SHAPE = (55, 27, 64)    # per image, NHWC: the pool's row part, where the kernel stores that
TAPS, K = 34, 384               # K elements per kernel row (33 taps and a zero), K padded to 16s
THREADS = 512                   # 4 warpgroups
TILES_PER_IMAGE = 12            # tiles of 256 pixels, 254 apart
POOLED_ROWS = 27                # an image in bands: one tile per pooled row
# pool1's column part, in its own kernel, took 15% as long as conv1_wgmma at batch 4096 on an H200
# (270 us against 1,799: docs/speed-steps.md): what a round of whole images may cost more than tiles
COLUMN_PASS_SHARE = 0.15
# weights, two buffers of 31 input rows, edges, a ring of 8 rows of row maxima, alignment
SHARED_BYTES = 49152 + 2 * 31 * 1376 + 4096 + 8 * 27 * 128 + 1024
# The output channel of each MMA column (the kernel's channel_of): a thread's two 16-byte stores of a
# pixel are 64 contiguous bytes with its three neighbours'.
CHANNEL_ORDER = nvrtc.store_order(64)
KERNEL = nvrtc.CudaKernel(SOURCE, "conv1_wgmma", THREADS, SHARED_BYTES)


def fits(conv: torch.nn.Conv2d) -> bool:
    """Whether conv is the convolution the kernel computes (AlexNet's conv1), bias or not."""
    return ((conv.in_channels, conv.out_channels, tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding))
            == CONV and conv.groups == 1 and tuple(conv.dilation) == (1, 1) and conv.padding_mode == "zeros")


def pack_weights(weight: torch.Tensor) -> torch.Tensor:
    """The (64, 3, 11, 11) weight as the kernel's shared-memory image of its B operand: K element
    a * 34 + 3 * pixel + channel of kernel row a, for 6 chunks of 64 K, 64 rows of 128 bytes each,
    whose 16-byte pieces are swizzled by the row (piece q stored at q ^ row % 8). Row n holds output
    channel CHANNEL_ORDER[n]."""
    weight = weight[CHANNEL_ORDER.to(weight.device)]
    out_channels, _, kernel_height, kernel_width = weight.shape
    taps = weight.permute(0, 2, 3, 1).reshape(out_channels, kernel_height, -1)     # a row's taps in memory order
    rows = F.pad(taps, (0, TAPS - taps.shape[-1])).reshape(out_channels, -1)
    chunks = F.pad(rows, (0, K - rows.shape[-1])).reshape(out_channels, K // 64, 8, 8).permute(1, 0, 2, 3)
    return nvrtc.swizzle_rows(chunks)


def schedule(images: int, programs: int) -> tuple:
    """(pooling, banded_from, grid) for a batch of `images` on `programs` programs (one per SM).
    Pooling, the kernel takes images below banded_from whole, 12 tiles in order in one program, and
    the rest in bands, one tile per pooled row: the images left after the last full round of whole
    images go in bands where their bands take fewer rounds than one more round of whole images.
    Where that takes more rounds of tiles than storing row maxima tile by tile, plus the column
    pass's share, the kernel stores row maxima (pooling False, banded_from unused)."""
    def rounds(tiles: int) -> int:
        return -(-tiles // programs)

    left = images % programs
    banded_from = images - left if rounds(left * POOLED_ROWS) < TILES_PER_IMAGE else images
    pooled_rounds = rounds(banded_from) * TILES_PER_IMAGE + rounds((images - banded_from) * POOLED_ROWS)
    row_max_rounds = rounds(images * TILES_PER_IMAGE)
    if pooled_rounds > (1 + COLUMN_PASS_SHARE) * row_max_rounds:
        return False, images, min(programs, images * TILES_PER_IMAGE)
    return True, banded_from, min(programs, max(banded_from, (images - banded_from) * POOLED_ROWS))


@torch.compiler.assume_constant_result     # torch.compile takes the answer as a constant, no graph break
def unavailable(device_index: int, dtype: torch.dtype) -> str:
    """'' where the kernel runs on CUDA device `device_index` (-1: not CUDA) for dtype, else why not."""
    return KERNEL.unavailable(device_index, dtype)


def conv1_pool_relu(x: torch.Tensor, packed: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """relu(max_pool2d(conv(x) + bias, 3, 2)) of the channels_last (n, 3, 224, 224) image x, the bias
    added before rounding: the (n, 27, 27, 64) NHWC tensor. `packed` comes from pack_weights; x, packed
    and bias share x's dtype (fp16 or bf16)."""
    x, packed = nvrtc.operands("conv1_wgmma", unavailable(x.device.index if x.is_cuda else -1, x.dtype), x, packed,
                               bias, input_shape=(CONV[0], *IMAGE), packed_elements=K * CONV[1], out_channels=CONV[1])
    kernel = KERNEL.on(x.device, x.dtype)
    pooling, banded_from, grid = schedule(x.shape[0], kernel.programs)
    y = torch.empty((x.shape[0], *(OUT_SHAPE if pooling else ROW_MAX_SHAPE)), dtype=x.dtype, device=x.device)
    with on_device(x.device):
        kernel.launch(grid, x.device, [x, packed, bias, y, x.shape[0], banded_from, int(pooling)])
        if pooling:
            return y
        # the pool's column part, then the ReLU; channels_last out, so .contiguous() is a no-op
        return kernels.max_pool(y.permute(0, 3, 1, 2), (3, 1), (2, 1), relu=True).permute(0, 2, 3, 1).contiguous()


if hasattr(torch.library, "custom_op"):
    @torch.library.custom_op("cnnbench::conv1_wgmma", mutates_args=())
    def _conv1_op(x: torch.Tensor, packed: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        return conv1_pool_relu(x, packed, bias)

    @_conv1_op.register_fake
    def _(x, packed, bias):
        return x.new_empty((x.shape[0], *OUT_SHAPE))
