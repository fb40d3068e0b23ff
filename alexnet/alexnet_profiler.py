#!/usr/bin/env python3
"""Where the time goes in AlexNet (or any torchvision classifier): layer by layer, kernel by kernel.

Profiles the forward pass with torch.profiler on a wait/warm-up/active schedule and attributes
every device kernel to the leaf module that launched it. Writes results/<model>/ a text report,
a JSON with the same data, a Chrome/Perfetto trace per batch size and a PNG of per-layer times.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

import torch  # noqa: E402

from cnnbench.cli import add_model_arguments, entry_point, int_list, output_dir, positive_int, single_precision  # noqa: E402
from cnnbench.data import choose_data, input_batch  # noqa: E402
from cnnbench.device import (describe_devices, environment, peak_memory_mib, reset_peak_memory,  # noqa: E402
                             resolve_device, synchronize)
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import Mode, Runner, check_mode  # noqa: E402
from cnnbench.profile_report import (kernel_lists, layer_table, model_sections, plot_layers,  # noqa: E402
                                     section, share_comparison)
from cnnbench.profiling import operator_tables, profile_layers  # noqa: E402
from cnnbench.results import (config_of, reserve_stem, save_figure, timestamp, write_atomic,  # noqa: E402
                              write_json, write_text)
from cnnbench.timing import clock_name, latency_stats, time_calls  # noqa: E402

EPILOG = """examples:
  python alexnet/alexnet_profiler.py                                   # batch 32, fp32
  python alexnet/alexnet_profiler.py --batch-sizes 1,32,256 --precision bf16 --channels-last
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    group = parser.add_argument_group("profiling")
    group.add_argument("--batch-sizes", type=int_list, default=None,
                       help="profile each of these batch sizes, e.g. 1,32,256 (default: --batch-size)")
    group.add_argument("--steps", type=positive_int, default=5, help="active profiled steps, averaged (default: 5)")
    group.add_argument("--warmup", type=positive_int, default=3, help="profiler warm-up steps (default: 3)")
    group.add_argument("--rewrite", action="store_true", help="profile the benchmark's exact rewrites "
                       "(space-to-depth conv1, pool before ReLU)")
    return parser


def measure_memory(runner: Runner, device) -> tuple:
    """(peak MiB, MiB above what was allocated before the forward) on CUDA; (None, None) elsewhere."""
    if device.type != "cuda":
        return None, None
    synchronize(device)
    before = torch.cuda.memory_allocated(device) / 2**20
    reset_peak_memory(device)
    with torch.inference_mode():
        runner.run()
    synchronize(device)
    peak = peak_memory_mib(device)
    return peak, peak - before


def profile_batch_size(runner: Runner, images, args, device) -> tuple:
    runner.load(images)
    unprofiled = time_calls(runner.run, device, iterations=20, warmup=5)
    peak, above = measure_memory(runner, device)
    layer_profile = profile_layers(runner.eager_model, runner.run, device, active_steps=args.steps,
                                   warmup_steps=args.warmup)
    result = {
        "batch_size": images.shape[0], "device_type": device.type,
        "layers": [layer.as_dict() for layer in layer_profile.layers],
        "profiled_forward_us": layer_profile.forward_us, "profiled_steps": layer_profile.steps,
        "time_basis": layer_profile.time_basis, "sum_of_layers_us": layer_profile.sum_of_layers_us,
        "layers_coverage": 1 - layer_profile.layers[-1].time_us / layer_profile.forward_us,
        "unprofiled": {"median_ms": latency_stats(unprofiled)["p50"], "iterations": len(unprofiled),
                       "clock": clock_name(device)},
        "peak_memory_mib": peak, "forward_memory_mib": above,
    }
    result["profiled_over_unprofiled"] = result["profiled_forward_us"] / (result["unprofiled"]["median_ms"] * 1e3)
    return result, layer_profile.profiler


@entry_point
def main(args) -> int:
    device = resolve_device(args.device)
    mode = Mode(single_precision(args), args.channels_last, rewrite=args.rewrite)
    check_mode(mode, device)
    data = choose_data(args.data_path, args.synthetic)
    loaded = load_model(args.model, args.weights, args.seed, allow_random_fallback=True)
    if loaded.notice:
        print(loaded.notice, file=sys.stderr)
    runner = Runner(loaded.model, mode, device)
    runner.check_support(input_batch(data, loaded.transforms, 1, args.seed))
    input_note = (f"SYNTHETIC random images ({data.reason})" if data.synthetic
                  else f"a seeded random batch of real images from {data.root}")

    out = output_dir(args)
    stem = reserve_stem(out, f"profiler_results_{timestamp()}", (".txt", ".json", ".png"))
    report = [section("GPU DETECTION DIAGNOSTICS"), describe_devices(), f"\nDevice used: {device}",
              model_sections(runner.eager_model),
              section("PROFILING SET-UP"),
              f"Input: {input_note}\nMode: {mode.label()}\nWeights: {loaded.weights}\n"
              f"Schedule: wait 1, warm-up {args.warmup}, active {args.steps} steps (averaged)"]
    results, traces = [], []
    for batch_size in args.batch_sizes or [args.batch_size]:
        print(f"Profiling {args.model} at batch {batch_size} on {device} ({mode.label()})...")
        result, prof = profile_batch_size(runner, input_batch(data, loaded.transforms, batch_size, args.seed),
                                          args, device)
        by_op, by_shape = operator_tables(prof, device.type == "cuda")
        trace = write_atomic(stem.parent / f"{stem.name}_bs{batch_size}.trace.json", prof.export_chrome_trace)
        result["trace"] = str(trace)
        traces.append(trace)
        results.append(result)
        report += [section(f"PER-LAYER BREAKDOWN (batch {batch_size}, PROFILED)"), layer_table(result),
                   section(f"KERNELS PER LAYER (batch {batch_size}, per forward)"), kernel_lists(result),
                   section(f"PYTORCH PROFILER RESULTS (batch {batch_size}, sorted by "
                           f"{'device' if device.type == 'cuda' else 'CPU'} time, {args.steps} steps)"), by_op,
                   section(f"OPERATORS GROUPED BY INPUT SHAPE (batch {batch_size})"), by_shape]
    if len(results) > 1:
        report += [section("LAYER SHARE OF THE FORWARD BY BATCH SIZE"), share_comparison(results)]
    text = "\n".join(report) + "\n"

    env = environment(device)
    write_text(stem.with_suffix(".txt"), text)
    write_json(stem.with_suffix(".json"), {
        "model": args.model, "device": str(device), "mode": mode.as_dict(), "input": input_note,
        "weights": loaded.weights, "parameters": sum(p.numel() for p in loaded.model.parameters()),
        "batch_sizes": results, "config": config_of(args), "environment": env})
    save_figure(stem.with_suffix(".png"), plot_layers(
        results, f"{args.model} per-layer time on {env.get('gpu', env['cpu'])} ({mode.label()})"))
    for result in results:
        print(f"\nbatch {result['batch_size']}:")
        print(layer_table(result))
    print(f"\nReport: {stem.with_suffix('.txt')}\nData: {stem.with_suffix('.json')}\n"
          f"Plot: {stem.with_suffix('.png')}\nTrace(s) for ui.perfetto.dev: {', '.join(map(str, traces))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
