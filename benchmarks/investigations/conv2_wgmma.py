#!/usr/bin/env python3
"""conv2 as an implicit GEMM on wgmma, 192 output channels per MMA (cnnbench/conv2_wgmma.cu), against cuDNN.

cuDNN runs AlexNet's conv2 (64 -> 192 channels, 5x5, 27 x 27) with a 256 x 64 tile at about 680
TFLOP/s in bf16 and 1.18 J per TFLOP, where conv3-conv5 (128 x 128 tiles) run at about 800 and 1.01
(docs/speed-steps.md). Each of its 64 x 64 x 16 MMAs reads as many bytes of shared memory as it
multiplies; conv2_wgmma.cu's 64 x 192 x 16 MMAs read 8 KB per three times the work.

Checks the kernel against an fp32 convolution on batches of 1 to 4096 images (a last tile that runs
past the batch, tiles that span two images), beside cuDNN's error from the same reference; times
both with do_bench at batches from 1 up (where the kernel starts to pay: conv2_wgmma.MIN_IMAGES);
then at the batch reads joules per call over graphed replays (layer_energy.per_call), alternating.
Calls 1-3 of results/alexnet/h200/conv2_wgmma ran the kernel from this directory, before it moved
into cnnbench.
Usage: python benchmarks/investigations/conv2_wgmma.py [--batch-size 4096] [--rounds 2] [--once | --batches-only]
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from triton.testing import do_bench, do_bench_cudagraph

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnnbench.conv2_wgmma import pack_weights, unavailable  # noqa: E402  (and the op)
from layer_energy import per_call  # noqa: E402

PIXELS = 27 * 27
SMALL_BATCHES = (1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256)


def conv2_wgmma(x, packed, bias=None):
    """The kernel's conv2 of the channels_last (n, 64, 27, 27) x, as a channels_last (n, 192, 27, 27)."""
    return torch.ops.cnnbench.conv2_wgmma(x, packed, bias).permute(0, 3, 1, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--once", action="store_true", help="launch the kernel once at the batch, nothing else (for ncu)")
    parser.add_argument("--batches-only", action="store_true", help="the check and the times by batch, no more")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False      # the fp32 reference in fp32
    device = torch.device("cuda")
    weight32 = torch.randn(192, 64, 5, 5, device=device) * 0.03
    bias32 = torch.randn(192, device=device)
    for dtype in (torch.bfloat16, torch.float16):
        assert unavailable(0, dtype) == "", unavailable(0, dtype)
    if args.once:
        x = torch.randn(args.batch_size, 64, 27, 27, device=device, dtype=torch.bfloat16).relu()
        conv2_wgmma(x.contiguous(memory_format=torch.channels_last), pack_weights(weight32.bfloat16()))
        torch.cuda.synchronize()
        return 0

    worst = 0.0
    for dtype in (torch.bfloat16, torch.float16):
        for n in (1, 2, 3, 7, 64, 263, args.batch_size):
            for with_bias in (False, True):
                x32 = torch.randn(n, 64, 27, 27, device=device).relu()
                x = x32.to(dtype).contiguous(memory_format=torch.channels_last)
                bias = bias32.to(dtype) if with_bias else None
                reference = F.conv2d(x.float(), weight32.to(dtype).float(), None if bias is None else bias.float(), padding=2)
                ours = conv2_wgmma(x, pack_weights(weight32.to(dtype)), bias).float()
                cudnn = F.conv2d(x, weight32.to(dtype), bias, padding=2).float()
                scale = reference.abs().max().item()
                error, cudnn_error = ((ours - reference).abs().max().item() / scale,
                                      (cudnn - reference).abs().max().item() / scale)
                worst = max(worst, error / max(cudnn_error, 1e-6))
                print(f"{str(dtype)[6:]:>8} n={n:<5} bias={with_bias!s:<5} max error / max |ref|: "
                      f"conv2_wgmma {error:.2e}, cuDNN {cudnn_error:.2e}", flush=True)
    print(f"worst ratio of conv2_wgmma's error to cuDNN's: {worst:.2f}")
    if worst > 2:
        print("conv2_wgmma is WRONG; not timing it")
        return 1

    weight, packed = weight32.bfloat16(), pack_weights(weight32.bfloat16())
    forms = {"cuDNN": lambda x: F.conv2d(x, weight, None, padding=2), "conv2_wgmma": lambda x: conv2_wgmma(x, packed)}
    print("bf16 by batch, us per call: do_bench (eager: small batches are bound by the launches), "
          "do_bench_cudagraph (replayed: the GPU's time)")
    for n in SMALL_BATCHES:
        x = torch.randn(n, 64, 27, 27, device=device, dtype=torch.bfloat16).relu()
        x = x.contiguous(memory_format=torch.channels_last)
        times = {label: (do_bench(lambda: form(x), warmup=50, rep=200), do_bench_cudagraph(lambda: form(x), rep=200))
                 for label, form in forms.items()}
        print(f"  {n:>5} images: " + ", ".join(f"{label} {eager * 1e3:6.1f} / {graphed * 1e3:6.1f}"
                                               for label, (eager, graphed) in times.items()), flush=True)
    if args.batches_only:
        return 0

    x = torch.randn(args.batch_size, 64, 27, 27, device=device, dtype=torch.bfloat16).relu()
    x = x.contiguous(memory_format=torch.channels_last)
    flop = 2 * args.batch_size * PIXELS * 192 * 64 * 25
    for round_ in range(args.rounds):
        for label, form in forms.items():
            ms = do_bench(lambda: form(x), warmup=200, rep=1000)
            row = per_call(form, x, args.seconds)
            print(f"round {round_ + 1} {label:<12} do_bench {ms:.3f} ms ({flop / ms / 1e9:.0f} TFLOP/s); graphed "
                  f"{row['ms']:.3f} ms {row['j']:.3f} J {row['w']:.0f} W {row['mhz']:.0f} MHz, "
                  f"power-capped {row['capped']:.0f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
