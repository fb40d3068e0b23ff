"""The profiler run: per-layer device time, kernels, operator tables and memory per batch size.

Each batch size is timed unprofiled first (the benchmark's way: events, warm-up excluded), then
profiled on a wait/warm-up/active schedule (profiling.profile_layers); the two are reported side
by side, never mixed.
"""

import sys

import torch

from . import metrics
from .data import input_batch
from .device import describe_devices, environment, peak_memory_mib, reset_peak_memory, synchronize
from .metrics import latency_stats
from .models import load_model
from .modes import Runner
from .profile_report import kernel_lists, layer_table, model_sections, plot_layers, section, share_comparison
from .profiling import operator_tables, profile_layers
from .record import provenance
from .timing import clock_name, time_calls


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


def profile_batch_size(runner: Runner, images, device, steps: int, warmup: int) -> tuple:
    runner.load(images)
    unprofiled = time_calls(runner.run, device, iterations=20, warmup=5)
    peak, above = measure_memory(runner, device)
    layer_profile = profile_layers(runner.eager_model, runner.run, device, active_steps=steps,
                                   warmup_steps=warmup)
    result = {
        "batch_size": images.shape[0], "device_type": device.type,
        "layers": [layer.as_dict() for layer in layer_profile.layers],
        "profiled_forward_us": layer_profile.forward_us, "profiled_steps": layer_profile.steps,
        "time_basis": layer_profile.time_basis, "sum_of_layers_us": layer_profile.sum_of_layers_us,
        "layers_coverage": metrics.layer_coverage(layer_profile.layers[-1].time_us, layer_profile.forward_us),
        "unprofiled": {"median_ms": latency_stats(unprofiled)["p50"], "iterations": len(unprofiled),
                       "clock": clock_name(device)},
        "peak_memory_mib": peak, "forward_memory_mib": above,
    }
    result["profiled_over_unprofiled"] = metrics.share(result["profiled_forward_us"], result["unprofiled"]["median_ms"] * 1e3)
    return result, layer_profile.profiler


def run_profiler(*, model: str, weights: str, device, mode, data, batch_sizes: list, steps: int, warmup: int,
                 seed: int, files, config: dict = None, say=print) -> None:
    """Profile every batch size; write the report (.txt, and profiler_results.txt as the newest), the
    JSON, the per-layer PNG and a Chrome trace per batch size through `files` (results.RunFiles)."""
    loaded = load_model(model, weights, seed, allow_random_fallback=True)
    if loaded.notice:
        say(loaded.notice, file=sys.stderr)
    runner = Runner(loaded.model, mode, device)
    runner.check_support(input_batch(data, loaded.transforms, 1, seed))
    input_note = (f"SYNTHETIC random images ({data.reason})" if data.synthetic
                  else f"a seeded random batch of real images from {data.root}")

    report = [section("GPU DETECTION DIAGNOSTICS"), describe_devices(), f"\nDevice used: {device}",
              model_sections(runner.eager_model),
              section("PROFILING SET-UP"),
              f"Input: {input_note}\nMode: {mode.label()}\nWeights: {loaded.weights}\n"
              f"Schedule: wait 1, warm-up {warmup}, active {steps} steps (averaged)"]
    results, traces = [], []
    for batch_size in batch_sizes:
        say(f"Profiling {model} at batch {batch_size} on {device} ({mode.label()})...")
        result, prof = profile_batch_size(runner, input_batch(data, loaded.transforms, batch_size, seed),
                                          device, steps, warmup)
        by_op, by_shape = operator_tables(prof, device.type == "cuda")
        trace = files.write_with(f"_bs{batch_size}.trace.json", prof.export_chrome_trace)
        result["trace"] = str(trace)
        traces.append(trace)
        results.append(result)
        report += [section(f"PER-LAYER BREAKDOWN (batch {batch_size}, PROFILED)"), layer_table(result),
                   section(f"KERNELS PER LAYER (batch {batch_size}, per forward)"), kernel_lists(result),
                   section(f"PYTORCH PROFILER RESULTS (batch {batch_size}, sorted by "
                           f"{'device' if device.type == 'cuda' else 'CPU'} time, {steps} steps)"), by_op,
                   section(f"OPERATORS GROUPED BY INPUT SHAPE (batch {batch_size})"), by_shape]
    if len(results) > 1:
        report += [section("LAYER SHARE OF THE FORWARD BY BATCH SIZE"), share_comparison(results)]
    text = "\n".join(report) + "\n"

    env = environment(device)
    report_path = files.write_text(".txt", text)
    files.write_json(".json", {
        **provenance(), "model": model, "device": str(device), "mode": mode.as_dict(), "input": input_note,
        "weights": loaded.weights, "parameters": sum(p.numel() for p in loaded.model.parameters()),
        "batch_sizes": results, "config": config or {}, "environment": env})
    files.save_figure(".png", plot_layers(
        results, f"{model} per-layer time on {env.get('gpu', env['cpu'])} ({mode.label()})"))
    for result in results:
        say(f"\nbatch {result['batch_size']}:")
        say(layer_table(result))
    latest = files.latest(report_path, "profiler_results.txt")
    say(f"\nReport: {report_path} (also {latest})\nData: {files.path('.json')}\n"
          f"Plot: {files.path('.png')}\nTrace(s) for ui.perfetto.dev: {', '.join(map(str, traces))}")
