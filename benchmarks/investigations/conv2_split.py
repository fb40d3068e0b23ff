#!/usr/bin/env python3
"""Three candidate steps for the compiled forward at batch 4096, each alone and together, by time
and by energy (at the power cap a step pays by the joules it saves).

- conv2 in output-channel groups (timed alone). cuDNN runs conv2 (64 -> 192 channels, 5x5) at
  about 680 TFLOP/s with a 256 x 64 tile, conv3-conv5 (multiples of 128 channels) at about 800
  with 128 x 128 tiles. Each group is its own convolution over all the input channels; pooling,
  bias and ReLU act per channel, so groups joined after them give the layer's output.
- pool2 and pool5 with their bias and ReLU as one Triton kernel (pool_kernels.py's) inside a custom
  op, where inductor's fused kernels move 3.3 and 1.8 TB/s.
- The FC layers' ReLU in cuBLASLt's epilogue (torch._addmm_activation, which inductor calls as it
  is) instead of a separate ReLU kernel after each.

First conv2 alone in each split (eager, graphed), then the compiled forwards with the other two.
It ran at ba4262f (conv2_groups calls 1-2). Since ee11d6a the product's pools run their bias and
ReLU in its own Triton kernel, so on later trees the Triton-pools variant finds no BiasReLU to take.
Usage: python benchmarks/investigations/conv2_split.py --precision bf16 --channels-last --rewrite
"""

import argparse
import copy
import sys
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.modes import compile_options  # noqa: E402
from cnnbench.rewrites import BiasReLU, LinearReLU, MaxPool2d  # noqa: E402
from layer_energy import measure, per_call  # noqa: E402
from plain_loop import add_model_arguments, build, graphed  # noqa: E402
from pool_kernels import pool_bias_relu  # noqa: E402

SPLITS = ((192,), (128, 64), (64, 128), (96, 96), (64, 64, 64))


@torch.library.custom_op("conv2split::pool_bias_relu", mutates_args=())
def _pool_bias_relu_op(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return pool_bias_relu(x, bias, 32, 64, 4).permute(0, 2, 3, 1)


@_pool_bias_relu_op.register_fake
def _(x, bias):
    n, channels, height, width = x.shape
    return x.new_empty((n, (height - 3) // 2 + 1, (width - 3) // 2 + 1, channels))


def triton_pool(x, bias):
    return torch.ops.conv2split.pool_bias_relu(x, bias).permute(0, 3, 1, 2)


class TritonPool(nn.Module):
    def __init__(self, bias):
        super().__init__()
        self.bias = bias

    def forward(self, x):
        return triton_pool(x, self.bias)


class AddmmReLU(nn.Module):
    def __init__(self, linear: LinearReLU):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return torch._addmm_activation(self.linear.bias, x, self.linear.weight.t())


def variant(model, *, triton_pools: bool = False, addmm: bool = False):
    """The rewritten AlexNet with the steps asked for (in place)."""
    features = model.features
    if triton_pools:
        for index in range(len(features) - 1):
            if isinstance(features[index], MaxPool2d) and isinstance(features[index + 1], BiasReLU):
                features[index] = TritonPool(features[index + 1].bias)
                features[index + 1] = nn.Identity()
    if addmm:
        for index, layer in enumerate(model.classifier):
            if isinstance(layer, LinearReLU) and layer.relu:
                model.classifier[index] = AddmmReLU(layer)
    return model


def kernel_table(run, steps: int = 3) -> str:
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            run()
        torch.cuda.synchronize()
    per_kernel = defaultdict(float)
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            per_kernel[event.name] += event.device_time / steps
    rows = [f"    {t:8.1f} us  {name[:100]}" for name, t in sorted(per_kernel.items(), key=lambda kv: -kv[1]) if t > 15]
    return f"    {sum(per_kernel.values()):8.1f} us in all\n" + "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser, batch_size=4096)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    compile_mode, args.compile = args.compile or "default", None
    model, x = build(args)
    with torch.inference_mode():
        conv2_input = model.features[:3](x)
        conv = model.features[3]
        reference = F.conv2d(conv2_input, conv.weight, None, conv.stride, conv.padding)
        flop = 2 * reference.numel() * conv.weight[0].numel()
        print("conv2 alone, in output-channel groups (eager, graphed):")
        for sizes in SPLITS:
            weights = conv.weight.split(sizes)

            def grouped(y, weights=weights):
                return [F.conv2d(y, w, None, conv.stride, conv.padding) for w in weights]
            diff = (torch.cat(grouped(conv2_input), 1) - reference).abs().max().item()
            row = per_call(grouped, conv2_input, args.seconds)
            print(f"  {'+'.join(map(str, sizes)):<10} {row['ms']:7.3f} ms {flop / row['ms'] / 1e9:6.0f} TFLOP/s "
                  f"{row['j']:6.3f} J {row['w']:4.0f} W {row['mhz']:5.0f} MHz; max diff from one conv {diff:.3g}")

        # conv2 in groups saved little alone (call 1), so the compiled forwards leave it out. Each
        # variant replays once right after its capture, so a failure names its variant.
        variants = {"as shipped": {}, "FC ReLU in cuBLASLt": {"addmm": True},
                    "Triton pools": {"triton_pools": True}, "both": {"triton_pools": True, "addmm": True}}
        runs, expected = {}, None
        for label, steps in variants.items():
            forward = torch.compile(variant(copy.deepcopy(model), **steps), dynamic=False,
                                    options=compile_options(compile_mode, torch.device("cuda")))
            out = forward(x).float()
            expected = out if expected is None else expected
            diff = (out - expected).abs().max().item() / expected.abs().max().item()
            print(f"{label}: relative diff from as shipped {diff:.3g}")
            runs[label] = graphed(forward, x)
            runs[label]()
            torch.cuda.synchronize()
        results = defaultdict(list)
        for _ in range(args.rounds):
            for label, run in runs.items():
                results[label].append(measure(run, args.seconds))
        print(f"compiled + graphed forwards, batch {args.batch_size} ({args.rounds} rounds, alternating):")
        for label, rows in results.items():
            print(f"  {label:<20} " + "; ".join(
                f"{r['ms']:7.3f} ms {args.batch_size / r['ms'] * 1e3:9,.0f} img/s {r['j']:6.3f} J "
                f"{args.batch_size / r['j']:6.1f} img/J {r['w']:4.0f} W {r['mhz']:5.0f} MHz" for r in rows))
        for label, run in runs.items():
            print(f"kernels, {label}:\n{kernel_table(run)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
