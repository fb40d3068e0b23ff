"""conv2_wgmma on the CPU: its weight layout, its build by NVRTC (no GPU needed), its geometry against
the kernel's, where the rewrite does not take it, and how nvrtc.py checks and lays out both kernels'
operands and passes launch arguments. The
kernel's results are in the CUDA set (test_cuda.py)."""

import ctypes
import re

import pytest
import torch
from torchvision.models import alexnet

from cnnbench import conv2_wgmma, nvrtc
from cnnbench.rewrites import WgmmaConv2d, rewrite_model


def test_pack_weights_puts_each_tap_where_the_kernel_reads_it():
    torch.manual_seed(0)
    weight = torch.randn(192, 64, 5, 5)
    packed = conv2_wgmma.pack_weights(weight)
    assert packed.dim() == 1 and packed.numel() * 2 == 25 * 192 * 128     # 25 taps of 192 rows of 128 bytes
    seen = torch.zeros_like(packed, dtype=torch.bool)
    for tap in range(25):
        for n in range(192):
            # MMA column n = 8j + 2q + e holds channel 32 * (j // 4) + 8q + 2 * (j % 4) + e: a thread's pairs
            # 4k..4k + 3 are 8 contiguous channels
            j, q, e = n // 8, n % 8 // 2, n % 2
            out_channel = 32 * (j // 4) + 8 * q + 2 * (j % 4) + e
            for piece in range(8):
                at = (tap * 192 + n) * 64 + (piece ^ n % 8) * 8      # the row's pieces swizzled by n % 8
                assert torch.equal(packed[at:at + 8], weight[out_channel, 8 * piece:8 * piece + 8, tap // 5, tap % 5])
                seen[at:at + 8] = True
    assert seen.all()


@pytest.mark.skipif(nvrtc.library() is None, reason="no NVRTC library: a CPU-only build of PyTorch")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_nvrtc_builds_the_kernel_for_hopper(dtype):
    cubin = nvrtc.compile_cubin(conv2_wgmma.SOURCE, dtype)
    assert cubin[:4] == b"\x7fELF" and b"conv2_wgmma" in cubin


def test_the_launcher_agrees_with_the_kernel_on_tiles_and_shared_memory():
    defines = dict(re.findall(r"^#define (\w+) (\d+)\b", conv2_wgmma.SOURCE.read_text(), re.M))
    side, staged_rows = int(defines["SIDE"]), int(defines["STAGED_ROWS"])
    assert side == conv2_wgmma.SIDE and int(defines["OUT_CHANNELS"]) == conv2_wgmma.CONV[1]
    warpgroups = int(defines["WARPGROUPS"])
    assert conv2_wgmma.THREADS == 128 * warpgroups and conv2_wgmma.TILE == 64 * warpgroups
    assert int(defines["STAGE_BYTES"]) == conv2_wgmma.STAGE_BYTES and int(defines["TAP_BUFFERS"]) == conv2_wgmma.TAP_BUFFERS
    assert conv2_wgmma.STAGE_BYTES >= staged_rows * side * 128
    # the rows a tile stages (its pixels' rows and 2 either side, within their images) never exceed the
    # buffer, whether the tile lies in one image or spans two, or runs past the batch
    most = 0
    for images in (1, 2, 5):
        pixels = images * side * side
        for first in range(0, pixels, conv2_wgmma.TILE):
            rows = range(first // side, (min(first + conv2_wgmma.TILE, pixels) - 1) // side + 1)
            needed = {row + d for row in rows for d in range(-2, 3) if (row + d) // side == row // side}
            assert needed == set(range(min(needed), max(needed) + 1))      # one contiguous span to copy
            most = max(most, len(needed))
    assert most <= staged_rows


def test_only_alexnets_conv2_is_rewritten_and_cpu_input_says_why_not():
    model = rewrite_model(alexnet().eval())
    layer = model.features[3]
    assert isinstance(layer, WgmmaConv2d) and layer.bias is None       # its bias moved into pool2
    assert [type(m) for m in model.features if isinstance(m, WgmmaConv2d)] == [WgmmaConv2d]
    x = torch.randn(2, 64, 27, 27).contiguous(memory_format=torch.channels_last)
    assert layer.form(x) == "cuDNN (not conv2_wgmma: input not on CUDA)"
    torch.testing.assert_close(layer(x), torch.nn.functional.conv2d(x, layer.weight, None, padding=2))
    assert not conv2_wgmma.fits(torch.nn.Conv2d(64, 192, 5, padding=1))
    assert not conv2_wgmma.fits(torch.nn.Conv2d(64, 192, 5, padding=2, groups=2))


def test_the_op_refuses_what_it_cannot_run():
    packed = conv2_wgmma.pack_weights(torch.randn(192, 64, 5, 5))
    with pytest.raises(RuntimeError, match="input not on CUDA"):
        conv2_wgmma.conv2(torch.randn(2, 64, 27, 27), packed, None)


def test_operands_are_checked_then_laid_out_on_16_byte_boundaries():
    shapes = dict(input_shape=(64, 27, 27), packed_elements=25 * 64 * 192, out_channels=192)
    packed = torch.zeros(25 * 64 * 192 + 1, dtype=torch.bfloat16)[1:]     # 2 bytes past a boundary
    # channels_last already, so only the boundary asks for a copy
    x = torch.randn(3 * 27 * 27 * 64 + 1).to(torch.bfloat16)[1:].view(3, 27, 27, 64).permute(0, 3, 1, 2)
    assert x.is_contiguous(memory_format=torch.channels_last) and x.data_ptr() % 16
    with pytest.raises(RuntimeError, match="conv2_wgmma cannot run: no GPU"):
        nvrtc.operands("conv2_wgmma", "no GPU", x, packed, None, **shapes)
    with pytest.raises(RuntimeError, match=r"input \(3, 64, 26, 26\) .* not its layer's"):
        nvrtc.operands("conv2_wgmma", "", x[..., 1:, 1:], packed, None, **shapes)
    with pytest.raises(RuntimeError, match="the input's dtype, 192 output channels"):
        nvrtc.operands("conv2_wgmma", "", x, packed, torch.zeros(64, dtype=torch.bfloat16), **shapes)
    with pytest.raises(RuntimeError, match="the input's dtype"):
        nvrtc.operands("conv2_wgmma", "", x.float(), packed, None, **shapes)
    laid_x, laid_packed = nvrtc.operands("conv2_wgmma", "", x, packed, None, **shapes)
    assert laid_x.data_ptr() % 16 == 0 and laid_packed.data_ptr() % 16 == 0
    assert laid_x.is_contiguous(memory_format=torch.channels_last) and torch.equal(laid_x, x)
    assert torch.equal(laid_packed, packed)


def test_launch_arguments_are_addresses_null_pointers_and_ints():
    x = torch.zeros(4)
    assert nvrtc.kernel_argument(x).value == x.data_ptr()
    assert nvrtc.kernel_argument(None).value is None        # ctypes' null pointer
    argument = nvrtc.kernel_argument(4096)
    assert isinstance(argument, ctypes.c_int) and argument.value == 4096
