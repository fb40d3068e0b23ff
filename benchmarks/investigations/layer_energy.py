#!/usr/bin/env python3
"""Where the energy goes: each leaf layer's joules per call on the GPU, at the clock its own power allows.

At batch 4096 an H200 runs AlexNet at its power cap, so a step pays by the energy it saves. This
runs each leaf layer of the model (as --rewrite makes it, eager) on the input the layer sees in a
forward, replayed as a CUDA graph back to back for --seconds after as long a warm-up, and reads
the GPU's energy counter, mean power and SM clock over the replays (cnnbench.device.BusySampler).
conv1's layer also runs without the pool it took ("its conv alone"). Then the whole forward the
same way, eager and (--compile) compiled. A layer alone draws its own power, so its clock is not
the one it gets beside the others: read joules per call, not time.

With --tail (AlexNet, with --compile), also the compiled forward of everything after conv1's layer,
on the output that layer gives: what the rest of the forward costs, so what a forward at a target
throughput leaves for conv1.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.device import BusySampler  # noqa: E402
from cnnbench.modes import compile_options  # noqa: E402
from cnnbench.models import leaf_modules  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d  # noqa: E402
from cnnbench.timing import time_calls  # noqa: E402
from plain_loop import add_model_arguments, build, graphed  # noqa: E402

SKIPPED = (torch.nn.Dropout, torch.nn.Identity)     # nothing runs on the GPU in eval
GRAPH_MS = 20       # each replayed graph runs the layer this long, so launches do not gap the GPU


def layer_inputs(model, x) -> list:
    """[(name, layer, its input)] for every leaf layer that runs a kernel, in forward order."""
    seen = []
    hooks = [module.register_forward_pre_hook(lambda module, args, name=name: seen.append((name, module, args[0])))
             for name, module in leaf_modules(model) if not isinstance(module, SKIPPED)]
    model(x)
    for hook in hooks:
        hook.remove()
    return seen


def replay_for(run, seconds: float) -> tuple:
    """(replays, their milliseconds, BusySampler's summary over them) of run() called back to back for `seconds`."""
    replays, start, end = 0, torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with BusySampler(torch.device("cuda")) as sampler:
        start.record()
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            run()
            replays += 1
            if replays % 8 == 0:
                end.record()
                end.synchronize()      # a short queue: the sampler's window ends with the replays
        end.record()
        end.synchronize()
    return replays, start.elapsed_time(end), sampler.summary()


def measure(run, seconds: float) -> dict:
    """After a warm-up of `seconds` (the GPU settles at the power and clock this load gets), run()
    for `seconds` more: ms and joules per call, mean power, SM clock and % of readings power-capped."""
    replay_for(run, seconds)
    replays, ms, summary = replay_for(run, seconds)
    return {"ms": ms / replays, "j": summary["gpu_energy_j"] / replays, "w": summary["gpu_power_w"],
            "mhz": summary["gpu_sm_clock_mhz"], "capped": (summary["gpu_clock_limits_percent"] or {}).get("power cap", 0.0)}


def repeated(layer, x, times: int):
    """A forward-like callable (it ignores its argument) that runs layer(x) `times` times."""
    def run(_):
        for _ in range(times):
            layer(x)
    return run


def per_call(layer, inputs, seconds: float) -> dict:
    """measure() of layer(inputs), replayed in graphs of about GRAPH_MS, per call."""
    once_ms = time_calls(lambda: layer(inputs), torch.device("cuda"), iterations=1, warmup=1)[0]
    times = max(1, round(GRAPH_MS / once_ms))
    figures = measure(graphed(repeated(layer, inputs, times), inputs), seconds)
    return {key: value / times if key in ("ms", "j") else value for key, value in figures.items()}


class AfterFirstLayer(torch.nn.Module):
    """torchvision's AlexNet forward without its first layer (features[0])."""

    def __init__(self, model):
        super().__init__()
        self.features, self.avgpool, self.classifier = model.features[1:], model.avgpool, model.classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_arguments(parser, batch_size=4096)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--space-to-depth", action="store_true",
                        help="conv1 in the space-to-depth form at every batch (the form batch 1 and GPUs without TMA get)")
    parser.add_argument("--tail", action="store_true",
                        help="also the compiled forward after conv1's layer (AlexNet, needs --compile)")
    args = parser.parse_args()
    if args.space_to_depth:
        SpaceToDepthConv2d._why_not_pairs = lambda self, x: "--space-to-depth"
    compile_mode, args.compile = args.compile, None
    model, x = build(args)
    rows = []
    with torch.inference_mode():
        for name, layer, inputs in layer_inputs(model, x):
            if layer(inputs) is inputs:
                continue        # a layer that hands its input on (the average pool at 6 x 6) runs no kernel
            rows.append({"layer": name, "type": type(layer).__name__, **per_call(layer, inputs, args.seconds)})
            if isinstance(layer, SpaceToDepthConv2d) and layer.pools:
                # conv1 without the pool's column part: conv_pairs with its row max (in the pairs form),
                # or the space-to-depth convolution without the pool
                form = layer._space_to_depth if layer._why_not_pairs(inputs) else layer._pairs
                rows.append({"layer": f"{name} (its conv alone)", "type": "part",
                             **per_call(lambda y: form(y, None), inputs, args.seconds)})
        forwards = {"forward, eager": model}
        if compile_mode:
            args.compile = compile_mode
            forwards[f"forward, compiled ({compile_mode})"] = build(args)[0]
        for label, forward in forwards.items():
            forward(x)
            rows.append({"layer": label, "type": "", **measure(graphed(forward, x), args.seconds)})
        if args.tail and compile_mode:
            tail = torch.compile(AfterFirstLayer(model), dynamic=False,
                                 options=compile_options(compile_mode, torch.device("cuda")))
            first = model.features[0](x)
            tail(first)
            rows.append({"layer": f"after features.0, compiled ({compile_mode})", "type": "",
                         **measure(graphed(tail, first), args.seconds)})
    layers_j = sum(row["j"] for row in rows if row["type"] not in ("", "part"))
    print(f"{'layer':<30} {'type':<20} {'ms/call':>9} {'J/call':>8} {'share':>6} {'W':>6} {'MHz':>6} {'capped':>7}")
    for row in rows:
        share = "" if row["type"] in ("", "part") else f"{100 * row['j'] / layers_j:5.1f}%"
        print(f"{row['layer']:<30} {row['type']:<20} {row['ms']:9.3f} {row['j']:8.3f} {share:>6} {row['w']:6.0f} "
              f"{row['mhz']:6.0f} {row['capped']:6.0f}%")
    print(f"layers' sum: {layers_j:.3f} J per forward, {args.batch_size / layers_j:.1f} images per joule")
    for row in rows:
        if row["type"] == "":
            print(f"{row['layer']}: {args.batch_size / row['j']:.1f} images per joule, "
                  f"{args.batch_size / row['ms'] * 1e3:,.0f} images/s")
    print(json.dumps({**vars(args), "compile": compile_mode, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
