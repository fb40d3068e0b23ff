"""The custom Triton kernels on the CPU, under Triton's interpreter: the batch-1 linear kernel behind
--rewrite in every block configuration, conv1's pairs kernel, and the gpu decode
paths' batched resize."""

import os
import subprocess
import sys

import pytest
import torch

from cnnbench import kernels
from cnnbench.errors import REPO_ROOT

INTERPRETED = r"""
import torch, torch.nn.functional as F
from cnnbench import kernels
torch.manual_seed(0)
worst = 0.0
for dtype in (torch.float32, torch.float16):
    # a ragged shape (neither side a multiple of any block) and one with a bias only
    for out_features, in_features, relu in ((37, 300, True), (70, 1100, False)):
        w = torch.randn(out_features, in_features, dtype=dtype)
        b = torch.randn(out_features, dtype=dtype)
        x = torch.randn(1, in_features, dtype=dtype)
        expected = F.linear(x.double(), w.double(), b.double())
        expected = expected.relu() if relu else expected
        for config in kernels.ROW_CONFIGS:
            got = kernels.linear_row(x, w, b, relu, config).double()
            # one rounding of the fp32 sum to the output dtype: half an ulp of the largest output
            tolerance = expected.abs().max().item() * torch.finfo(dtype).eps + 1e-4
            worst = max(worst, ((got - expected).abs().max().item()) / tolerance)
            assert (got - expected).abs().max().item() <= tolerance, (dtype, out_features, config)
print(worst)
"""


needs_triton = pytest.mark.skipif(kernels.triton is None, reason="triton is not installed")


def interpreted(code: str) -> str:
    """What `code` prints, run in a fresh interpreter with Triton's kernels interpreted on the CPU."""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, TRITON_INTERPRET="1"), timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_triton
def test_linear_row_kernel_matches_f_linear_in_every_configuration():
    assert 0 < float(interpreted(INTERPRETED)) <= 1


def test_kernels_say_why_they_cannot_run_on_the_cpu():
    reason = kernels.kernel_unavailable(torch.zeros(1))
    assert reason and ("cpu" in reason or "triton" in reason or "custom_op" in reason)
    x, w, b = torch.randn(1, 8), torch.randn(3, 8), torch.randn(3)
    torch.testing.assert_close(kernels.linear(x, w, b, relu=True), torch.relu(x @ w.T + b))


PAIRS_INTERPRETED = r"""
import torch
import triton
from cnnbench import kernels
from cnnbench.rewrites import SpaceToDepthConv2d
torch.manual_seed(0)
worst = 0.0
# AlexNet's conv1 on an image whose rows are 16-byte aligned (the hinted loads) and on one whose are not,
# with an odd output width (the last pair's second pixel is cut); two input channels and a kernel wider
# than tall; one channel with padding wider than the kernel; no padding, no bias and windows that end
# inside the image (a crop)
for conv, size in ((torch.nn.Conv2d(3, 8, 11, stride=4, padding=2), (36, 32)),
                   (torch.nn.Conv2d(3, 8, 11, stride=4, padding=2), (35, 41)),
                   (torch.nn.Conv2d(2, 4, (5, 7), stride=2, padding=(3, 1)), (13, 18)),
                   (torch.nn.Conv2d(1, 4, 3, stride=4, padding=5), (9, 14)),
                   (torch.nn.Conv2d(3, 4, 4, stride=4, padding=0, bias=False), (19, 23))):
    x = torch.randn(2, conv.in_channels, *size).contiguous(memory_format=torch.channels_last)
    layer = SpaceToDepthConv2d(conv)
    reference = conv(x)
    out_height, out_width = reference.shape[-2:]
    arguments = (x, layer.pair_weight, None if conv.bias is None else conv.bias.repeat(2), conv.stride[0],
                 *conv.kernel_size, *conv.padding, out_height, out_width, conv.out_channels)
    for config in (None, triton.Config({"BLOCK_M": 64, "BLOCK_K": 64}, num_warps=4, num_stages=3)):   # steps across rows
        got = kernels.conv_pairs(*arguments, config=config).permute(0, 3, 1, 2)
        assert got.shape == reference.shape and got.is_contiguous(memory_format=torch.channels_last), conv
        worst = max(worst, (got - reference).abs().max().item())
        if 2 * conv.out_channels >= 16:     # the row part of a 3x3, stride-2 max-pool in the kernel
            rows = kernels.conv_pairs(*arguments, row_max=True, config=config).permute(0, 3, 1, 2)
            expected = torch.nn.functional.max_pool2d(reference, (1, 3), (1, 2))
            assert rows.shape == expected.shape, (rows.shape, expected.shape)
            worst = max(worst, (rows - expected).abs().max().item())
print(worst)
"""


@needs_triton
def test_conv_pairs_kernel_matches_the_convolution():
    assert float(interpreted(PAIRS_INTERPRETED)) < 1e-4


POOL_INTERPRETED = r"""
import torch
import torch.nn.functional as F
from cnnbench import kernels
torch.manual_seed(0)
# pool1's column part, AlexNet's 3x3 stride-2 pools, a 2x2 pool that drops an odd last row and column;
# channel counts that fill no tile (3), one and a bit (70) and several; NaN and -inf in the input
for shape, kernel_size, stride in (((2, 64, 55, 27), (3, 1), (2, 1)), ((3, 70, 13, 13), (3, 3), (2, 2)),
                                   ((1, 3, 9, 7), (2, 2), (2, 2)), ((2, 192, 6, 5), (3, 3), (1, 2))):
    flat = torch.randn(shape[0], *shape[2:], shape[1])       # NHWC memory
    flat.view(-1)[::97] = float("nan")
    flat.view(-1)[5::89] = float("-inf")
    x = flat.permute(0, 3, 1, 2)
    got = torch.ops.cnnbench.max_pool(x, *kernel_size, *stride).permute(0, 3, 1, 2)   # the op over the kernel
    expected = F.max_pool2d(x, kernel_size, stride)
    assert got.shape == expected.shape and got.is_contiguous(memory_format=torch.channels_last), shape
    assert torch.equal(got.isnan(), expected.isnan()), shape
    assert torch.equal(got.nan_to_num(), expected.nan_to_num()), shape
    # with the bias and the ReLU, PyTorch's steps in fp16 (the bias added and rounded once), in both
    # output orders; NaN stays NaN through the ReLU
    half, bias = x.half(), torch.randn(shape[1]).half()     # the interpreter has no bf16
    expected = F.relu(F.max_pool2d(half, kernel_size, stride) + bias.view(1, -1, 1, 1))
    for relu_only in (False, True):
        for flatten_order in (False, True):
            got = torch.ops.cnnbench.max_pool(half, *kernel_size, *stride, None if relu_only else bias, True,
                                              flatten_order)
            got = got if flatten_order else got.permute(0, 3, 1, 2)
            want = F.relu(F.max_pool2d(half, kernel_size, stride)) if relu_only else expected
            assert got.is_contiguous() == flatten_order, shape
            assert torch.equal(got.isnan(), want.isnan()), shape
            assert torch.equal(got.nan_to_num(), want.nan_to_num()), shape
print("same")
"""


@needs_triton
def test_max_pool_kernel_gives_pytorchs_bits():
    assert interpreted(POOL_INTERPRETED).strip() == "same"


RESIZE_INTERPRETED = r"""
import numpy as np, torch
import torchvision.transforms.functional as TF
from PIL import Image
from cnnbench.preprocess import Preprocess
from cnnbench.resample import kernels_unavailable, resize_crop_kernels, resize_crop_matmul
assert kernels_unavailable(torch.device("cpu")) == ""     # interpreted, they run on the CPU
prep = Preprocess(resize_size=32, crop_size=28)     # small, for the interpreter's speed
rng = np.random.default_rng(0)
sizes = [(40, 50), (61, 37), (30, 200), (28, 28), (90, 120), (33, 32), (61, 37)]   # one size twice
images = [torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)) for h, w in sizes]
images[4] = torch.from_numpy(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).permute(2, 0, 1)   # HWC memory
worst = 0
for block_y, block_x in ((16, 64), (8, 32)):
    got = resize_crop_kernels(images, prep, block_y, block_x).int()
    assert got.shape == (len(images), 3, 28, 28)
    assert (got - resize_crop_matmul(images, prep).int()).abs().max().item() <= 1
    for image, crop in zip(images, got):
        pil = TF.center_crop(TF.resize(TF.to_pil_image(image), 32), 28)
        worst = max(worst, (crop - TF.pil_to_tensor(pil).int()).abs().max().item())
bicubic = Preprocess(resize_size=32, crop_size=28, interpolation="bicubic")   # noise overshoots: both forms clamp
assert (resize_crop_kernels(images, bicubic).int() - resize_crop_matmul(images, bicubic).int()).abs().max().item() <= 1
print(worst)
"""


@needs_triton
def test_resize_kernels_crop_mixed_sizes_as_pil_does():
    assert int(interpreted(RESIZE_INTERPRETED)) <= 1


def test_resize_says_why_its_kernels_cannot_run_and_uses_the_matrix_form():
    from cnnbench import resample
    reason = resample.kernels_unavailable(torch.device("cpu"))     # not interpreted here
    assert ("cpu" in reason) if resample.triton is not None else reason == "triton is not installed"
    assert resample.resize_form("cpu") == f"matrix form ({reason})"
    images = [torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8), torch.randint(0, 256, (3, 60, 30), dtype=torch.uint8)]
    assert resample.resize_crop_batch(images, resample.Preprocess()).shape == (2, 3, 224, 224)
