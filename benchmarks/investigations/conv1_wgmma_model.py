#!/usr/bin/env python3
"""What conv1_wgmma.cu would buy the whole forward: the --rewrite model compiled and graphed, with
conv1's layer as shipped (conv_pairs with the pool's row max, then the column part) against conv1
on wgmma (conv1_wgmma.cu, 4 warpgroups per program, fragments 2 steps ahead) followed by the whole
3x3 max-pool, which inductor fuses with the bias and ReLU after it. The kernel runs through a custom
op, opaque to torch.compile.

Checks the two forwards' logits against each other, then times them alternating (CUDA events
over graphed replays) and reads joules per forward (layer_energy.measure).
Usage: python benchmarks/investigations/conv1_wgmma_model.py [--batch-size 4096] [--rounds 3]
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnnbench.modes import compile_options  # noqa: E402
from cnnbench.rewrites import bias_relu  # noqa: E402
from conv1_wgmma import SOURCE, Kernel, compile_cubin, conv1_wgmma, geometry, pack_weights  # noqa: E402
from layer_energy import measure  # noqa: E402
from plain_loop import add_model_arguments, build, graphed  # noqa: E402

DEFINES = {"WARPGROUPS": 4, "MIN_BLOCKS": 1, "AHEAD": 2}
_KERNEL = {}


@torch.library.custom_op("investigation::conv1_wgmma", mutates_args=())
def conv1_op(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    kernel, grid, tiles = _KERNEL["conv1"]
    return conv1_wgmma(kernel, grid, tiles, x, packed, bias)


@conv1_op.register_fake
def _(x, packed, bias):
    return x.new_empty((x.shape[0], 55, 55, 64))


class WgmmaConv1(torch.nn.Module):
    """The shipped layer's convolution on wgmma, then the pool, bias and ReLU (since caa0eb7 the shipped
    layer runs all three; before, BiasReLU after the pool added the bias)."""

    def __init__(self, layer):
        super().__init__()
        assert layer.pools, "expects the rewrite's conv1 that runs pool1"
        self.bias = layer.bias
        weight = torch.empty(64, 3, 11, 11, device="cuda", dtype=layer.weight.dtype)
        # the shipped layer keeps the weights regrouped for space-to-depth: W'[o, c*16 + i*4 + j, a, b]
        regrouped = layer.weight.detach().reshape(64, 3, 4, 4, 3, 3).permute(0, 1, 4, 2, 5, 3).reshape(64, 3, 12, 12)
        weight.copy_(regrouped[:, :, :11, :11])
        self.packed = torch.nn.Parameter(pack_weights(weight), requires_grad=False)
        self.register_buffer("zero_bias", torch.zeros(64, device="cuda"))

    def forward(self, x):
        y = torch.ops.investigation.conv1_wgmma(x, self.packed, self.zero_bias).permute(0, 3, 1, 2)
        return bias_relu(F.max_pool2d(y, 3, 2), self.bias)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser, batch_size=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.set_defaults(precision="bf16", channels_last=True, rewrite=True, compile="default")
    args = parser.parse_args()
    compiled, x = build(args)       # first: the driver calls below need the context PyTorch makes
    threads, tiles, shared = geometry(DEFINES["WARPGROUPS"])
    kernel = Kernel(compile_cubin(SOURCE.read_text(), DEFINES), "conv1_wgmma", threads, shared)
    _KERNEL["conv1"] = (kernel, torch.cuda.get_device_properties(0).multi_processor_count, tiles)
    model = compiled._orig_mod if hasattr(compiled, "_orig_mod") else compiled
    shipped_layer = model.features[0]
    record = {"config": {**vars(args), "kernel": DEFINES}, "forms": {}}
    forms = {}
    with torch.inference_mode():
        forms["shipped conv1 layer"] = graphed(compiled, x)
        shipped_logits = compiled(x).float()
        model.features[0] = WgmmaConv1(shipped_layer)
        wgmma = torch.compile(model, dynamic=False, options=compile_options(args.compile, torch.device("cuda")))
        wgmma_logits = wgmma(x).float()
        record["max_relative_logit_diff"] = ((wgmma_logits - shipped_logits).abs().max()
                                             / shipped_logits.abs().max()).item()
        record["top1_agreement"] = (wgmma_logits.argmax(1) == shipped_logits.argmax(1)).float().mean().item()
        forms["conv1 on wgmma, whole pool after"] = graphed(wgmma, x)
        print(json.dumps({k: record[k] for k in ("max_relative_logit_diff", "top1_agreement")}), flush=True)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for round_ in range(args.rounds):
            for name, run in forms.items():
                for _ in range(10):
                    run()
                start.record()
                for _ in range(args.iterations):
                    run()
                end.record()
                end.synchronize()
                ms = start.elapsed_time(end) / args.iterations
                entry = record["forms"].setdefault(name, {"ms_per_forward": [], "images_per_second": []})
                entry["ms_per_forward"].append(ms)
                entry["images_per_second"].append(args.batch_size / ms * 1e3)
                print(name, round_, ms, args.batch_size / ms * 1e3, flush=True)
        for name, run in forms.items():
            record["forms"][name]["energy"] = measure(lambda run=run: run(), args.seconds)
            print(name, record["forms"][name]["energy"], flush=True)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
