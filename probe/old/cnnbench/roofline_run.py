"""The intensity run: FLOP, bytes and arithmetic intensity of every layer on this machine's roofline."""

import sys

from . import metrics
from .data import input_batch
from .device import environment
from .intensity import layer_costs, machine_ceilings
from .models import load_model
from .modes import DTYPES, Runner
from .profiling import profile_layers
from .record import provenance
from .rewrites import rewrite_model
from .roofline_report import above_roof_note, intensity_table, plot_roofline


def analyse_batch(loaded, device, mode, data, batch_size: int, ceilings, measure: bool, seed: int) -> dict:
    """FLOP, bytes and intensity of every leaf layer at this batch size (of the rewritten model with
    mode.rewrite); with `measure`, each layer's profiled time and the rate it reached against its roof."""
    analysed = rewrite_model(loaded.model) if mode.rewrite else loaded.model
    costs = layer_costs(analysed, batch_size, mode.compute_dtype)
    times = {}
    if measure:
        runner = Runner(loaded.model, mode, device)
        runner.load(input_batch(data, loaded.transforms, batch_size, seed))
        profiled = profile_layers(runner.eager_model, runner.run, device, record_shapes=False)
        times = {layer.name: layer.time_us for layer in profiled.layers}
    rows = []
    for cost in costs:
        row = {**cost.__dict__, "intensity": cost.intensity, "roof_flops": ceilings.roof(cost.intensity),
               "bound": "-" if not cost.flop else "compute" if cost.intensity >= ceilings.ridge else "memory"}
        time_us = times.get(cost.name)
        if time_us is not None:
            row["time_us"] = time_us
        if time_us and cost.flop:
            achieved = metrics.rate(cost.flop, time_us / 1e6)
            row.update(achieved_flops=achieved, achieved_bytes_per_s=metrics.rate(cost.bytes, time_us / 1e6),
                       fraction_of_roof=metrics.share(achieved, row["roof_flops"]))
        rows.append(row)
    return {"batch_size": batch_size, "measured": bool(times), "layers": rows,
            "time_basis": profiled.time_basis if times else None}


def run_roofline(*, model: str, weights: str, device, mode, data, batch_sizes: list, measure: bool, seed: int,
                 peak_tflops=None, peak_gbps=None, files, config: dict = None, say=print) -> None:
    """Ceilings (measured unless given), every layer's costs per batch size (and measured times with
    `measure`); writes the report (.txt, and arithmetic_intensity_results.txt as the newest), the JSON
    and the roofline PNG through `files` (results.RunFiles)."""
    precision = mode.precision
    loaded = load_model(model, weights, seed, allow_random_fallback=True)
    if loaded.notice and measure:
        say(loaded.notice, file=sys.stderr)
    say(f"Ceilings on {device} for {precision}: {'measuring' if not (peak_tflops and peak_gbps) else 'given'}...")
    ceilings = machine_ceilings(device, DTYPES[precision], peak_tflops, peak_gbps)
    ceiling_info = {"peak_flops": ceilings.peak_flops, "peak_bytes_per_s": ceilings.peak_bytes_per_s,
                    "ridge": ceilings.ridge, "flops_source": ceilings.flops_source,
                    "bandwidth_source": ceilings.bandwidth_source}
    results = [analyse_batch(loaded, device, mode, data, batch_size, ceilings, measure, seed) for batch_size in batch_sizes]

    env = environment(device)
    report = [f"ARITHMETIC INTENSITY: {model}, {mode.label()}, on {env.get('gpu', env['cpu'])} ({device})",
              "FLOP = 2 per multiply-add, plus bias adds, ReLU and pooling comparisons; bytes = minimum traffic "
              "(inputs and weights read once, output written once; in-place ReLU reads and writes each element).",
              f"Measured layer times: {results[0]['time_basis'] if measure else 'not measured'}"
              + ("" if not measure else f"; input: {'synthetic' if data.synthetic else data.root}")]
    for result in results:
        report += ["", f"--- batch {result['batch_size']} ---", intensity_table(result["layers"], ceiling_info)]
    if above_roof_note(results):
        report += ["", above_roof_note(results)]
    text = "\n".join(report) + "\n"
    say(text)
    report_path = files.write_text(".txt", text)
    files.write_json(".json", {**provenance(), "model": model, "device": str(device), "mode": mode.as_dict(),
                               "ceilings": ceiling_info, "batch_sizes": results, "config": config or {},
                               "environment": env})
    files.save_figure(".png", plot_roofline(
        results, ceiling_info, f"{model} roofline on {env.get('gpu', env['cpu'])}, {precision}"))
    latest = files.latest(report_path, "arithmetic_intensity_results.txt")
    say(f"Report: {report_path} (also {latest})\nData: {files.path('.json')}\nPlot: {files.path('.png')}")
