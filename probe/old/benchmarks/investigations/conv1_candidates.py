#!/usr/bin/env python3
"""Candidate forms of AlexNet's first layers at a large batch, each timed alone (triton's do_bench).

What the batch-4096 forward spends outside conv2-5 and the FC layers is conv1 (space-to-depth copy
plus a stride-1 convolution over 48 channels) and the bias-ReLU passes. This times, on one GPU:
- conv1 direct (11x11, stride 4) against space-to-depth with 48 channels or padded to 64 (4 input
  channels), the copies alone, the rewrite's pairs form (kernels.conv_pairs, reading the image in
  place) in each tile config, and a Triton implicit-GEMM convolution over the
  space-to-depth input (a prototype: does Triton beat cuDNN's kernel for 64 output channels?);
- conv2-4 shapes: the convolution alone, with bias and ReLU after it, and cuDNN's fused
  convolution + bias + ReLU (torch.cudnn_convolution_relu).
Usage: python benchmarks/investigations/conv1_candidates.py [--batch-size 4096] [--precision bf16]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d, space_to_depth  # noqa: E402


# conv_pairs' tiles tried (kernels.PAIR_CONFIG is the first)
PAIR_TILES = [triton.Config({"BLOCK_M": m, "BLOCK_K": k}, num_warps=w, num_stages=s)
              for m, k, w, s in ((128, 32, 4, 4), (128, 64, 4, 3), (128, 64, 8, 3), (256, 64, 8, 3), (64, 64, 4, 4),
                                 (128, 16, 4, 5))]


def _configs():
    return [triton.Config({"BLOCK_M": m, "BLOCK_K": k}, num_warps=w, num_stages=3)
            for m in (64, 128, 256) for k in (16, 64) for w in (4, 8) if not (m == 256 and w == 4)]


@triton.autotune(configs=_configs(), key=["M", "C", "OW", "OH"])
@triton.jit
def _conv_kernel(x_ptr, w_ptr, y_ptr, M, H, W, OH, OW, C,
                 KH: tl.constexpr, KW: tl.constexpr, C_PAD: tl.constexpr, N_OUT: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr):
    """Stride-1, unpadded convolution of an NHWC input: rows = output pixels, K = taps x channels."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < M
    ow = m % OW
    oh = (m // OW) % OH
    n = (m // OW // OH).to(tl.int64)
    base = ((n * H + oh) * W + ow) * C
    cols = tl.arange(0, N_OUT)
    ks = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, N_OUT), dtype=tl.float32)
    for tap in range(KH * KW):
        tap_offset = ((tap // KW) * W + (tap % KW)) * C
        for c0 in range(0, C_PAD, BLOCK_K):
            c = c0 + ks
            a = tl.load(x_ptr + base[:, None] + tap_offset + c[None, :], mask=m_ok[:, None] & (c < C)[None, :],
                        other=0.0)
            b = tl.load(w_ptr + (tap * C_PAD + c)[:, None] * N_OUT + cols[None, :])
            acc = tl.dot(a, b, acc)
    tl.store(y_ptr + m.to(tl.int64)[:, None] * N_OUT + cols[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=m_ok[:, None])


def triton_conv(x, weight):
    """conv2d(x, weight) for channels_last x, stride 1, no padding, through _conv_kernel."""
    out_channels, channels, kh, kw = weight.shape
    c_pad = -(-channels // 64) * 64
    packed = torch.zeros(kh, kw, c_pad, out_channels, dtype=weight.dtype, device=weight.device)
    packed[:, :, :channels] = weight.permute(2, 3, 1, 0)
    packed = packed.reshape(-1, out_channels)
    n, _, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    y = torch.empty((n, out_channels, oh, ow), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    grid = lambda meta: (triton.cdiv(n * oh * ow, meta["BLOCK_M"]),)   # noqa: E731
    _conv_kernel[grid](x, packed, y, n * oh * ow, h, w, oh, ow, channels, KH=kh, KW=kw, C_PAD=c_pad,
                       N_OUT=out_channels)
    return y


def conv1_input(x, channels_to):
    """AlexNet conv1's input (pad 2, 228 = 57 x 4) as 57 x 57 x (channels_to x 16), channels_last."""
    return space_to_depth(F.pad(x, [2, 2, 2, 2, 0, channels_to - x.shape[1]]), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--precision", choices=("bf16", "fp16"), default="bf16")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    dtype, cl, n = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.precision], torch.channels_last, args.batch_size
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(3, 64, 11, 4, 2).to("cuda", dtype)
    weight48 = SpaceToDepthConv2d(conv1).weight.contiguous(memory_format=cl)
    weight64 = torch.zeros(64, 64, 3, 3, device="cuda", dtype=dtype)
    weight64[:, :48] = weight48          # channels c*16 + i*4 + j: the fourth input channel is 48..63
    weight64 = weight64.contiguous(memory_format=cl)
    x = torch.randn(n, 3, 224, 224, device="cuda", dtype=dtype).contiguous(memory_format=cl)
    result = {"batch_size": n, "precision": args.precision, "device": torch.cuda.get_device_name(), "ms": {}}
    ms = result["ms"]
    with torch.inference_mode():
        x48, x64 = conv1_input(x, 3), conv1_input(x, 4)
        ms["conv1_direct_cudnn"] = do_bench(lambda: F.conv2d(x, conv1.weight, None, 4, 2))
        ms["space_to_depth_copy_48ch_eager"] = do_bench(lambda: conv1_input(x, 3))
        ms["space_to_depth_copy_64ch_eager"] = do_bench(lambda: conv1_input(x, 4))
        ms["conv1_cudnn_on_48ch"] = do_bench(lambda: F.conv2d(x48, weight48))
        ms["conv1_cudnn_on_64ch"] = do_bench(lambda: F.conv2d(x64, weight64))
        pairs = SpaceToDepthConv2d(conv1).to(memory_format=cl)    # the rewrite's form at this size
        pairs.bias = None                                          # as in the rewrite: it moves past the pool
        assert not pairs._why_not_pairs(x)
        ms["conv1_pairs_form"] = do_bench(lambda: pairs(x))
        geometry = (4, 11, 11, 2, 2, 55, 55, 64)                   # stride, kernel, padding, 55 x 55 x 64 out
        for config in PAIR_TILES:
            ms[f"conv1_pairs_kernel {config}"] = do_bench(
                lambda: kernels.conv_pairs(x, pairs.pair_weight, None, *geometry, config=config))
        result["pairs_form_vs_direct_max_abs"] = (
            pairs(x).float() - F.conv2d(x, conv1.weight, None, 4, 2).float()).abs().max().item()
        started = time.perf_counter()
        y = triton_conv(x48, weight48)
        torch.cuda.synchronize()
        result["triton_autotune_s"] = time.perf_counter() - started
        result["triton_best_config"] = str(_conv_kernel.best_config)
        ms["conv1_triton_on_48ch"] = do_bench(lambda: triton_conv(x48, weight48))
        reference = F.conv2d(x48, weight48)
        result["triton_vs_cudnn_max_abs"] = (y.float() - reference.float()).abs().max().item()
        result["space_to_depth_vs_direct_max_abs"] = (
            reference.float() - F.conv2d(x, conv1.weight, None, 4, 2).float()).abs().max().item()
        for name, cin, cout, size, k, pad in (("conv2", 64, 192, 27, 5, 2), ("conv3", 192, 384, 13, 3, 1),
                                              ("conv4", 384, 256, 13, 3, 1)):
            xi = torch.randn(n, cin, size, size, device="cuda", dtype=dtype).contiguous(memory_format=cl)
            wi = (torch.randn(cout, cin, k, k, device="cuda", dtype=dtype) * 0.05).contiguous(memory_format=cl)
            bi = torch.randn(cout, device="cuda", dtype=dtype)
            fused = lambda: torch.cudnn_convolution_relu(xi, wi, bi, [1, 1], [pad, pad], [1, 1], 1)   # noqa: E731
            ms[f"{name}_conv_only"] = do_bench(lambda: F.conv2d(xi, wi, None, 1, pad))
            ms[f"{name}_conv_then_bias_relu"] = do_bench(lambda: F.relu(F.conv2d(xi, wi, bi, 1, pad)))
            ms[f"{name}_cudnn_fused_conv_bias_relu"] = do_bench(fused)
            result[f"{name}_fused_max_abs"] = (fused().float() - F.relu(F.conv2d(xi, wi, bi, 1, pad)).float()
                                               ).abs().max().item()
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
