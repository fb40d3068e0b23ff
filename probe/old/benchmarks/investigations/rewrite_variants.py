#!/usr/bin/env python3
"""Whole-model variants of the exact rewrite, compiled and replayed as CUDA graphs, timed alone.

Measures what a candidate form buys in the full forward (where inductor fuses what it can around
it), not in isolation: the rewrite as shipped; its conv1 in the space-to-depth form in place of
the pairs form; without its fused conv ReLUs (an earlier form); and conv1's space-to-depth with
its input channels padded 3 -> 4 (64 stride-1 input channels, inductor's copy) and/or its output
pixels computed in pairs along the width (a stride-(1, 2) convolution with 128 output channels
over 4 block columns, whose NHWC output is a view of the 55 x 56 x 64 image); and the classifier
reading the last pool's channels_last output as it lies (FC1's columns permuted to (h, w, c) order),
where flatten otherwise copies it to (c, h, w) order.
Each variant is checked against the reference model first.
Usage: python benchmarks/investigations/rewrite_variants.py [--batch-size 4096] [--cudnn-benchmark-limit N]
"""

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.rewrites import ConvReLU, rewrite_model, space_to_depth  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plain_loop import graphed  # noqa: E402


class PaddedSpaceToDepthConv1(nn.Module):
    """AlexNet's conv1 (after the rewrite, bias moved away) over 4 channels, optionally in pixel pairs."""

    def __init__(self, space_to_depth_conv, pairs: bool):
        super().__init__()
        weight = space_to_depth_conv.weight.detach()                      # (64, 48, 3, 3): channel c*16+i*4+j
        out_channels, blocks = weight.shape[0], weight.shape[-1]
        padded = torch.zeros(out_channels, 64, blocks, blocks, dtype=weight.dtype, device=weight.device)
        padded[:, :48] = weight
        if pairs:    # pixel 0 of a pair uses block columns 0..2, pixel 1 columns 1..3
            pair = torch.zeros(2, out_channels, 64, blocks, blocks + 1, dtype=weight.dtype, device=weight.device)
            pair[0, ..., :blocks], pair[1, ..., 1:] = padded, padded
            padded = pair.reshape(2 * out_channels, 64, blocks, blocks + 1)
        self.weight = nn.Parameter(padded.contiguous(memory_format=torch.channels_last), requires_grad=False)
        self.pairs, self.out_channels = pairs, out_channels

    def forward(self, x):
        out_width = 56 if self.pairs else 55
        x = space_to_depth(F.pad(x, [2, (out_width + 2) * 4 - x.shape[-1] - 2, 2, 2, 0, 4 - x.shape[1]]), 4)
        if not self.pairs:
            return F.conv2d(x, self.weight)
        y = F.conv2d(x, self.weight, stride=(1, 2))                           # (n, 128, 55, 28), NHWC
        n, _, rows, pair_columns = y.shape
        y = y.permute(0, 2, 3, 1).reshape(n, rows, 2 * pair_columns, self.out_channels).permute(0, 3, 1, 2)
        return y[..., :55]


class Permute(nn.Module):
    """NCHW-shaped channels_last -> (n, h, w, c), contiguous: torch.flatten(x, 1) is then a view."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1)


def unfused(model):
    for index, layer in enumerate(model.features):
        if isinstance(layer, ConvReLU):
            plain = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                              device="meta")
            plain.weight, plain.bias = layer.weight, layer.bias
            model.features[index], model.features[index + 1] = plain, nn.ReLU()
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--precision", choices=("bf16", "fp16"), default="bf16")
    parser.add_argument("--only", default="", help="a regular expression: the variants whose names match")
    parser.add_argument("--cudnn-benchmark-limit", type=int, default=None, help="0 tries every cuDNN algorithm")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    if args.cudnn_benchmark_limit is not None:
        torch.backends.cudnn.benchmark_limit = args.cudnn_benchmark_limit
    dtype, cl = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.precision], torch.channels_last
    torch.manual_seed(0)
    reference = torchvision.models.alexnet().eval().to("cuda", dtype, memory_format=cl).requires_grad_(False)
    shipped = rewrite_model(reference).to(memory_format=cl)

    def conv1_variant(pairs):
        model = copy.deepcopy(shipped)
        model.features[0] = PaddedSpaceToDepthConv1(model.features[0], pairs)
        return model

    def space_to_depth_variant():   # conv1 as before the pairs form: pixel_unshuffle's copy, 48 channels
        model = copy.deepcopy(shipped)
        model.features[0]._why_not_pairs = lambda x: "space-to-depth asked"
        return model

    def nhwc_classifier_variant():   # flatten in (h, w, c) order, a view of channels_last; FC1's columns to match
        model = copy.deepcopy(shipped)
        first = next(layer for layer in model.classifier if isinstance(layer, nn.Linear))
        channels = model.features[10].out_channels
        columns = first.weight.reshape(first.out_features, channels, -1).transpose(1, 2)
        first.weight = nn.Parameter(columns.reshape(first.out_features, -1).contiguous(), requires_grad=False)
        model.avgpool = nn.Sequential(model.avgpool, Permute())
        return model

    variants = {"rewrite": lambda: shipped,
                "classifier reads NHWC": nhwc_classifier_variant, "rewrite without fused conv ReLUs": lambda: unfused(copy.deepcopy(shipped)),
                "conv1 over 4 channels": lambda: conv1_variant(False),
                "conv1 over 4 channels, pixel pairs": lambda: conv1_variant(True),
                "conv1 space-to-depth": space_to_depth_variant}
    variants = {name: make for name, make in variants.items() if re.search(args.only, name)}
    x = torch.randn(args.batch_size, 3, 224, 224, device="cuda", dtype=dtype).contiguous(memory_format=cl)
    results = {}
    with torch.inference_mode():
        expected = reference(x[:64]).float()
        for name, make in variants.items():
            model = make()
            relative = ((model(x[:64]).float() - expected).abs().max() / expected.abs().max()).item()
            eager_ms = do_bench(lambda: model(x), warmup=50, rep=300)
            torch._dynamo.reset()
            replay = graphed(torch.compile(model, dynamic=False), x)
            graph_ms = do_bench(replay, warmup=50, rep=500)
            results[name] = {"relative_diff": relative, "eager_ms": eager_ms, "compile_graphs_ms": graph_ms,
                             "images_per_second": args.batch_size / graph_ms * 1e3}
            print(name, json.dumps(results[name]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
