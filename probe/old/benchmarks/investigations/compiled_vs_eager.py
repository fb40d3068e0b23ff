#!/usr/bin/env python3
"""The compiled forward (and its CUDA graph) against eager, on new inputs, over models and batch sizes.

A compiled kernel launched before the one it reads from has finished (the dependent launches
modes.compile_options asks for on Hopper and later) would replay stale values: each case runs six
different inputs through the compiled Runner and the eager one and prints the largest relative
difference, after checking that every output differs from the one before.
Usage: compiled_vs_eager.py (random weights; alexnet and resnet50, fp16 and bf16, channels_last).
"""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import Mode, Runner  # noqa: E402

CASES = ([("alexnet", batch, rewrite, "fp16") for batch in (1, 3, 8, 256) for rewrite in (False, True)]
         + [("alexnet", 5, True, "bf16"), ("alexnet", 1, True, "bf16"),
            ("resnet50", 1, False, "fp16"), ("resnet50", 5, False, "bf16")])


def worst_difference(runner: Runner, reference: Runner, inputs: list) -> float:
    worst, previous = 0.0, None
    for images in inputs:
        reference.load(images)
        expected = reference.run().float().clone()
        runner.load(images)
        got = runner.run().float().clone()
        if previous is not None and torch.equal(previous, got):
            raise AssertionError("the output did not change with the input")
        worst, previous = max(worst, ((got - expected).norm() / expected.norm()).item()), got
    return worst


def main() -> int:
    device = torch.device("cuda")
    for name, batch, rewrite, precision in CASES:
        started = time.perf_counter()
        model = load_model(name, "none").model
        reference = Runner(model, Mode(precision, True), device)
        inputs = [torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(seed)) for seed in range(6)]
        for execution in ("compile+cuda-graphs", "compile"):
            runner = Runner(model, Mode(precision, True, execution, rewrite=rewrite), device)
            runner.warm_up(inputs[0], 2)
            with torch.inference_mode():
                worst = worst_difference(runner, reference, inputs)
            print(f"{name} batch {batch} {precision} rewrite={rewrite} {execution}: options {runner.compile_options} "
                  f"worst rel diff over {len(inputs)} inputs {worst:.2e} ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
