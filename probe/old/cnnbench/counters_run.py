"""The measured-bytes run (`alexnet_ai.py --counters`): each layer's DRAM and L2 traffic from
Nsight Compute's hardware counters, beside its analytic minimum, on a hierarchical roofline.

The forward runs eagerly (per-layer NVTX ranges need the layers to run one by one; a CUDA graph's
replay carries no ranges) in a child process under ncu, which replays every kernel to read its
counters. Kernel times under ncu are its own (one kernel at a time, caches as --cache says):
reported apart, never mixed with the unprofiled timing of the benchmark or --measure.
"""

import json
import math
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from . import metrics, ncu
from .counters_report import counters_table, plot_hierarchical_roofline
from .device import empty_cache, environment
from .errors import REPO_ROOT, UserError
from .intensity import l2_capacity_bytes, layer_costs, machine_ceilings, measure_l2_bandwidth
from .models import load_model
from .modes import DTYPES
from .record import provenance
from .rewrites import rewrite_model


def layer_row(name: str, layer_type: str, kernels: list, cost, l2_capacity: int) -> dict:
    """One layer's measured traffic and time (sums over its kernels) against its analytic cost."""
    dram_read = sum(k.dram_read_bytes for k in kernels)
    dram_write = sum(k.dram_write_bytes for k in kernels)
    dram = dram_read + dram_write
    l2 = sum(k.l2_bytes for k in kernels)
    time_us = sum(k.time_ns for k in kernels) / 1e3
    counted = [k.flop_counted for k in kernels]
    flop = cost.flop if cost else 0
    minimum = cost.bytes if cost else 0
    conversions = [k for k in kernels if k.layout_conversion]
    return {"name": name, "type": layer_type, "flop": flop, "min_bytes": minimum,
            "kernel_count": len(kernels), "time_us_under_ncu": time_us,
            "dram_read_bytes": dram_read, "dram_write_bytes": dram_write, "dram_bytes": dram, "l2_bytes": l2,
            "flop_counted": sum(counted) if kernels and None not in counted else None,
            "dram_to_minimum": metrics.share(dram, minimum),
            "intensity_dram": metrics.arithmetic_intensity(flop, dram),
            "intensity_l2": metrics.arithmetic_intensity(flop, l2),
            "flops_under_ncu": metrics.rate(flop, time_us / 1e6) if flop else None,
            "fits_in_l2": bool(minimum) and minimum <= l2_capacity,
            "below_minimum": bool(kernels) and dram < minimum,
            # at most one L2's worth of the minimum can be served by (or left dirty in) the L2
            "l2_explains_shortfall": minimum - dram <= l2_capacity,
            "layout_conversions": {"kernels": len(conversions), "time_us": sum(k.time_ns for k in conversions) / 1e3,
                                   "dram_bytes": sum(k.dram_read_bytes + k.dram_write_bytes for k in conversions)},
            "kernels": [k.as_dict() for k in kernels]}


def attribute(kernels: list, costs: list, l2_capacity: int) -> list:
    """Rows for every leaf layer (module order), then kernels outside any leaf as "other"."""
    by_layer = defaultdict(list)
    for kernel in kernels:
        by_layer[kernel.layer].append(kernel)
    rows = [layer_row(cost.name, cost.type, by_layer.pop(cost.name, []), cost, l2_capacity) for cost in costs]
    for name, rest in by_layer.items():    # outside every leaf (None), or a layer the costs do not know
        rows.append(layer_row(name or "other", "(outside any leaf layer)", rest, None, l2_capacity))
    return rows


def checks(rows: list, kernels: list, l2_capacity: int) -> dict:
    """What the figures must satisfy: per-layer sums equal ncu's totals over the batch's range, and
    DRAM traffic below the minimum by no more than the L2 holds (inputs found there, outputs still
    dirty there when the kernel ends)."""
    keys = ("dram_read_bytes", "dram_write_bytes", "l2_bytes")
    totals = {key: sum(getattr(k, key) for k in kernels) for key in ("time_ns",) + keys}
    sums = {"time_ns": sum(r["time_us_under_ncu"] for r in rows) * 1e3, **{key: sum(r[key] for r in rows) for key in keys}}
    below = [r for r in rows if r["below_minimum"]]
    return {"kernels": len(kernels), "totals": totals,
            "layers_sum_to_totals": all(math.isclose(sums[key], totals[key], rel_tol=1e-9, abs_tol=1e-6)
                                        for key in totals),
            "below_minimum_within_l2": [r["name"] for r in below if r["l2_explains_shortfall"]],
            "below_minimum_unexplained": [r["name"] for r in below if not r["l2_explains_shortfall"]],
            "l2_capacity_bytes": l2_capacity}


def run_counters(*, model: str, weights: str, device, mode, data, batch_sizes: list, seed: int, cache: str,
                 ncu_path=None, peak_tflops=None, peak_gbps=None, files, config: dict = None, say=print) -> None:
    """Measure every layer under ncu at each batch size; write the report (.txt, and
    measured_bytes_results.txt as the newest), the JSON, the hierarchical roofline PNG and ncu's report."""
    executable = ncu.find_ncu(ncu_path)
    version = ncu.ncu_version(executable)
    if device.type != "cuda":
        raise UserError(f"--counters reads an NVIDIA GPU's hardware counters: it needs a CUDA device "
                        f"(this run: {device})")
    available = ncu.available_metrics(executable)
    missing = [metric for metric in ncu.REQUIRED_METRICS if metric not in available]
    if missing:
        raise ncu.CountersUnavailable(f"this GPU's ncu offers no {', '.join(missing)}")
    chosen = [metric for metric in ncu.REQUIRED_METRICS + tuple(ncu.FLOP_METRICS) if metric in available]
    loaded = load_model(model, weights, seed, allow_random_fallback=True)
    measured = rewrite_model(loaded.model) if mode.rewrite else loaded.model   # the layers the child runs
    dtype = DTYPES[mode.precision]
    say(f"Ceilings on {device} for {mode.precision}: compute and DRAM "
        f"{'given' if peak_tflops and peak_gbps else 'measured'}, L2 measured...")
    compute = machine_ceilings(device, dtype, peak_tflops, peak_gbps)
    l2_rate, l2_source = measure_l2_bandwidth(device)
    empty_cache(device)
    ceilings = {"peak_flops": compute.peak_flops, "flops_source": compute.flops_source,
                "dram_bytes_per_s": compute.peak_bytes_per_s, "dram_source": compute.bandwidth_source,
                "l2_bytes_per_s": l2_rate, "l2_source": l2_source}
    l2_capacity = l2_capacity_bytes(device)

    with tempfile.TemporaryDirectory(prefix="cnnbench-ncu-") as scratch:
        target_config = Path(scratch) / "target.json"
        target_config.write_text(json.dumps({
            "model": model, "weights": weights, "seed": seed, "device": str(device), "precision": mode.precision,
            "channels_last": mode.channels_last, "rewrite": mode.rewrite, "batch_sizes": batch_sizes,
            "data_root": None if data.synthetic else str(data.root)}))
        report = Path(scratch) / "counters"
        target = [sys.executable, "-m", "cnnbench.ncu_target", str(target_config)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        say(f"Profiling {len(batch_sizes)} forward(s) under {version} ({cache} caches; every kernel is replayed "
            f"once per counter pass, so this takes a while)...")
        written, raw_csv = ncu.profile(executable, report, chosen, cache, target, env=env)
        kernels = ncu.parse_raw_csv(raw_csv)
        report_copy = files.write_with(".ncu-rep", lambda tmp: Path(tmp).write_bytes(written.read_bytes()))

    results = []
    for batch_size in batch_sizes:
        in_batch = [k for k in kernels if k.batch_size == batch_size]
        rows = attribute(in_batch, layer_costs(measured, batch_size, dtype), l2_capacity)
        results.append({"batch_size": batch_size, "layers": rows, "checks": checks(rows, in_batch, l2_capacity)})
    outside = sum(k.batch_size is None for k in kernels)

    env_info = environment(device)
    gpu = env_info.get("gpu", str(device))
    header = [f"MEASURED BYTES: {model}, {mode.label()}, on {gpu} ({device})",
              f"Counters: {version}, --cache-control {ncu.CACHE_CONTROL[cache]} ({cache} caches: "
              + ("every cache flushed before each kernel" if cache == "cold" else "caches kept between kernels")
              + "), --clock-control none; input: " + ("synthetic" if data.synthetic else str(data.root)),
              "Kernel times are under ncu (each kernel replayed alone): not the benchmark's timing.",
              "DRAM/min = measured DRAM bytes (read + write) / the analytic minimum (inputs and weights read "
              "once, output written once); FLOP/B against DRAM and against L2 bytes use the analytic FLOP.",
              f"Ceilings: compute {ceilings['peak_flops'] / 1e12:.1f} TFLOP/s ({ceilings['flops_source']}), "
              f"DRAM {ceilings['dram_bytes_per_s'] / 1e12:.2f} TB/s ({ceilings['dram_source']}), "
              f"L2 {ceilings['l2_bytes_per_s'] / 1e12:.2f} TB/s ({l2_source})"]
    if outside:
        header.append(f"WARNING: {outside} kernel(s) ran outside every batch range and are not counted")
    text = "\n".join(header + [line for result in results
                               for line in ["", f"--- batch {result['batch_size']} ---", counters_table(result)]]) + "\n"
    say(text)
    report_path = files.write_text(".txt", text)
    files.write_json(".json", {**provenance(), "model": model, "device": str(device), "mode": mode.as_dict(),
                               "execution": "eager", "cache": cache, "ncu": {"version": version, "metrics": chosen,
                               "cache_control": ncu.CACHE_CONTROL[cache], "clock_control": "none",
                               "report": report_copy.name},
                               "input": "synthetic" if data.synthetic else str(data.root),
                               "ceilings": ceilings, "kernels_outside_batches": outside, "batch_sizes": results,
                               "config": config or {}, "environment": env_info})
    files.save_figure(".png", plot_hierarchical_roofline(
        results, ceilings, f"{model} hierarchical roofline on {gpu}, {mode.precision}, {cache} caches (ncu)"))
    latest = files.latest(report_path, "measured_bytes_results.txt")
    say(f"Report: {report_path} (also {latest})\nData: {files.path('.json')}\nPlot: {files.path('.png')}\n"
        f"ncu report: {report_copy}")
