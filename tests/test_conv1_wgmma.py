"""conv1_wgmma on the CPU: its weight layout, its build by NVRTC (no GPU needed) and where the rewrite
does not take it. The kernel's results are in the CUDA set (test_cuda.py)."""

import pytest
import torch
from torchvision.models import alexnet

from cnnbench import conv1_wgmma, nvrtc
from cnnbench.rewrites import SpaceToDepthConv2d, rewrite_model


def test_pack_weights_puts_each_tap_where_the_kernel_reads_it():
    torch.manual_seed(0)
    weight = torch.randn(64, 3, 11, 11)
    packed = conv1_wgmma.pack_weights(weight).reshape(-1)
    assert packed.numel() * 2 == 49152     # the kernel's WEIGHT_BYTES in 2-byte elements
    seen = torch.zeros_like(packed, dtype=torch.bool)
    for n in range(64):
        # MMA column n = 8j + 2q + e holds channel 8q + 2j + e (j < 4) or 32 more (j >= 4): a thread's
        # pairs j = 0..3 are 8 contiguous channels, and so are its pairs 4..7
        j, q, e = n // 8, n % 8 // 2, n % 2
        out_channel = 32 * (j // 4) + 8 * q + 2 * (j % 4) + e
        for k in range(conv1_wgmma.K):
            row, element = divmod(k, conv1_wgmma.TAPS)
            # chunk of 64 K, row n of 128 bytes, 16-byte piece swizzled by n % 8, element in the piece
            at = (k // 64) * 4096 + n * 64 + (((k % 64) // 8) ^ (n % 8)) * 8 + k % 8
            pixel, channel = divmod(element, 3)
            expected = weight[out_channel, channel, row, pixel] if row < 11 and pixel < 11 else 0.0
            assert packed[at] == expected, (n, k)
            seen[at] = True
    assert seen.all()


@pytest.mark.skipif(nvrtc.library() is None, reason="no NVRTC library: a CPU-only build of PyTorch")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_nvrtc_builds_the_kernel_for_hopper(dtype):
    cubin = nvrtc.compile_cubin(conv1_wgmma.SOURCE, dtype)
    assert cubin[:4] == b"\x7fELF" and b"conv1_wgmma" in cubin


def test_only_alexnets_conv1_with_its_pool_is_a_candidate_and_cpu_input_says_why_not():
    model = rewrite_model(alexnet().eval())
    layer = model.features[0]
    assert isinstance(layer, SpaceToDepthConv2d) and layer.wgmma_weight is not None and layer.pools
    x = torch.randn(2, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    assert layer._why_not_wgmma(x) == "input not on CUDA"
    assert layer.form(x).startswith("space-to-depth (")
    assert conv1_wgmma.unavailable(-1, torch.bfloat16) == "input not on CUDA"
    other = SpaceToDepthConv2d(torch.nn.Conv2d(3, 64, 11, stride=4, padding=3))
    assert other.wgmma_weight is None and other._why_not_wgmma(x) == "not AlexNet's conv1 and pool"
    assert not conv1_wgmma.fits(torch.nn.Conv2d(3, 64, 11, stride=4, padding=2, dilation=2))


def test_the_op_refuses_what_is_not_alexnets_conv1_on_a_gpu_it_runs_on():
    packed = conv1_wgmma.pack_weights(torch.randn(64, 3, 11, 11))
    with pytest.raises(RuntimeError, match="input not on CUDA"):
        conv1_wgmma.conv1_pool_relu(torch.randn(2, 3, 224, 224), packed, None)


def test_the_launcher_agrees_with_the_kernel_on_tiles_and_shared_memory():
    import re

    defines = dict(re.findall(r"^#define (\w+) (\d+)\b", conv1_wgmma.SOURCE.read_text(), re.M))
    pixels, out_width, row_bytes = int(defines["PIXELS"]), int(defines["OUT_W"]), int(defines["ROW_BYTES"])
    tile = 64 * int(defines["WARPGROUPS"])
    step = tile - 2                                     # tiles overlap by the pool window's two extra pixels
    rows = 4 * ((tile - 2) // out_width + 1) + 11       # input rows of the most output rows a tile spans
    assert conv1_wgmma.THREADS == 128 * int(defines["WARPGROUPS"])
    assert conv1_wgmma.TILES_PER_IMAGE == -(-(pixels - 2) // step)
    ring_rows, pooled_width = int(defines["RING_ROWS"]), int(defines["POOLED_W"])
    assert conv1_wgmma.SHARED_BYTES == (int(defines["WEIGHT_BYTES"]) + 2 * rows * row_bytes
                                        + int(defines["EDGE_BYTES"]) + ring_rows * pooled_width * 128 + 1024)
    # every pool window (its first pixel in an even column up to 52) is stored by exactly one tile
    starts = [p for p in range(pixels) if p % out_width % 2 == 0 and p % out_width <= out_width - 3]
    owners = [sum(t * step <= p < t * step + step for t in range(conv1_wgmma.TILES_PER_IMAGE)) for p in starts]
    assert len(owners) == out_width * 27 and set(owners) == {1}
    # a pooled row is stored after the tile that stores the last window of its 3 conv rows; until then the
    # ring keeps its rows: from the first row a pooled row not yet stored needs, to the last row the next
    # tile writes
    tile_of = {p: p // step for p in starts}
    last_tile = [max(tile_of[p] for p in starts if 2 * i <= p // out_width <= 2 * i + 2) for i in range(pooled_width)]
    for t in range(conv1_wgmma.TILES_PER_IMAGE - 1):
        needed = min(2 * i for i in range(pooled_width) if last_tile[i] > t)
        written = max(p // out_width for p in starts if tile_of[p] == t + 1)
        assert written - needed < ring_rows


@pytest.mark.parametrize("programs", [132, 114, 78])
def test_schedule_pools_in_the_kernel_where_that_costs_few_more_rounds_than_tiles_alone(programs):
    def rounds(tiles):
        return -(-tiles // programs)

    plans = {}
    for images in range(1, 5000):
        pooling, banded_from, grid = conv1_wgmma.schedule(images, programs)
        assert 1 <= grid <= programs
        tile_rounds = rounds(images * conv1_wgmma.TILES_PER_IMAGE)
        if not pooling:
            assert grid == min(programs, images * conv1_wgmma.TILES_PER_IMAGE)
            plans.setdefault("row max", images)
            continue
        # whole images in full rounds, the rest in bands, on programs enough for both
        assert banded_from % programs == 0 or banded_from == images
        assert grid >= min(programs, max(banded_from, (images - banded_from) * conv1_wgmma.POOLED_ROWS))
        pooled_rounds = (rounds(banded_from) * conv1_wgmma.TILES_PER_IMAGE
                         + rounds((images - banded_from) * conv1_wgmma.POOLED_ROWS))
        assert pooled_rounds <= (1 + conv1_wgmma.COLUMN_PASS_SHARE) * tile_rounds
        plans.setdefault("bands" if banded_from == 0 else "whole" if banded_from == images else "both", images)
    # AlexNet's batch of 4096 pools on 132 SMs, its last 4 images in bands: as many rounds as tiles alone
    assert set(plans) == {"row max", "bands", "whole", "both"}
    assert programs != 132 or conv1_wgmma.schedule(4096, 132) == (True, 4092, 132)
