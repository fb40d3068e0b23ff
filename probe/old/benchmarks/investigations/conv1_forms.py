"""What the conv_pairs investigations share (conv_pairs_l1.py, conv_pairs_persistent.py,
conv_pairs_tma.py): AlexNet's conv1 at one batch size in bf16, and named forms of it timed with
do_bench after a check against the shipped kernel (kernels.conv_pairs)."""

import argparse
import json
import re
import sys
from pathlib import Path

import torch
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d  # noqa: E402

GEOMETRY = (4, 11, 11, 2, 2, 55, 55, 64)    # AlexNet conv1: stride, kernel, padding, 55 x 55 x 64 out
USEFUL_FLOP_PER_IMAGE = 2 * 55 * 55 * 64 * 3 * 11 * 11


def get_args_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--only", default="", help="a regular expression: the forms whose names match")
    return parser


def conv1_inputs(batch_size: int, device="cuda") -> tuple:
    """(x, packed): a random channels_last bf16 batch and conv1's packed pairs weights (seed 0)."""
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(3, 64, 11, 4, 2, bias=False).to(device, torch.bfloat16)
    packed = SpaceToDepthConv2d(conv1).pair_weight.data
    x = torch.randn(batch_size, 3, 224, 224, device=device, dtype=torch.bfloat16)
    return x.contiguous(memory_format=torch.channels_last), packed


def time_forms(forms: dict, x, packed, only: str = "", partial=(), bench=do_bench) -> dict:
    """Each form whose name matches `only`: its max difference from the shipped kernel relative to
    the output's largest value (not for the `partial` forms, which write part of the output), then
    its time in ms; a form that fails (e.g. out of shared memory) records why. Prints each, then
    the whole record with the fastest full form."""
    result = {"batch_size": x.shape[0], "device": torch.cuda.get_device_name() if x.is_cuda else str(x.device),
              "ms": {}, "max_relative_diff_vs_shipped": {}}
    with torch.inference_mode():
        reference = kernels.conv_pairs(x, packed, None, *GEOMETRY).float()
        scale = reference.abs().max().item()
        for name, run in forms.items():
            if not re.search(only, name):
                continue
            try:
                out = run()
                if name not in partial:
                    result["max_relative_diff_vs_shipped"][name] = (out.float() - reference).abs().max().item() / scale
                result["ms"][name] = bench(run)
            except Exception as error:      # e.g. out of shared memory or registers, or a refused tensor map
                result["ms"][name] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
            print(name, result["ms"][name], result["max_relative_diff_vs_shipped"].get(name), flush=True)
    timed = [(ms, name) for name, ms in result["ms"].items() if isinstance(ms, float) and name not in partial]
    if timed:
        ms, name = min(timed)
        result["best"] = {"name": name, "ms": ms,
                          "useful_tflop_per_s": USEFUL_FLOP_PER_IMAGE * x.shape[0] / ms / 1e9}
    print(json.dumps(result, indent=1))
    return result
