"""What the benchmark prints and writes: the summary table, the JSON, the CSV and the PNGs."""

import csv
import io

from .device import MIN_ENERGY_WINDOW_S

RULE = "=" * 60
CSV_COLUMNS = ["precision", "memory_format", "execution", "rewrite", "batch_size", "status",
               "model_images_per_second", "end_to_end_images_per_second", "batch_time_ms_p50",
               "batch_time_ms_p99", "peak_memory_mib", "compile_time_s", "top1_accuracy",
               "top5_accuracy", "top1_delta_vs_fp32", "top5_delta_vs_fp32", "gpu_power_w",
               "images_per_gpu_joule", "gpu_sm_clock_mhz"]


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def workers_text(count: int) -> str:
    return f"{count} worker{'' if count == 1 else 's'}"


def _num(value, spec=",.1f"):
    return "n/a" if value is None else format(value, spec)


def gpu_power_text(m: dict):
    """What the GPU drew and ran at over the timed pass (device.BusySampler), or None where NVML
    reported neither; held-down clocks name their limits, the power cap first among them."""
    parts = []
    if m.get("gpu_power_w") is not None:
        limit = f" (limit {m['gpu_power_limit_w']:,.0f} W)" if m.get("gpu_power_limit_w") else ""
        parts.append(f"{m['gpu_power_w']:,.0f} W on average{limit}, "
                     f"{_num(m['images_per_gpu_joule'])} images per joule")
    elif m.get("sampled_s") is not None and m["sampled_s"] < MIN_ENERGY_WINDOW_S and m.get("gpu_sm_clock_mhz"):
        parts.append(f"energy not read over a pass of {m['sampled_s']:.2f} s (its counter needs "
                     f"{MIN_ENERGY_WINDOW_S:.0f} s or more: more batches give it)")
    if m.get("gpu_sm_clock_mhz") is not None:
        clock = f"SM clock {m['gpu_sm_clock_mhz']:,.0f} MHz on average"
        if m.get("gpu_sm_clock_max_mhz"):
            clock += f" (max {m['gpu_sm_clock_max_mhz']:,})"
        limits = m.get("gpu_clock_limits_percent")
        if limits:
            clock += ", held down by " + " and ".join(f"the {name} in {percent:.0f}%" for name, percent in limits.items())
            clock += f" of {m['nvml_readings']} NVML readings"
        elif limits is not None:
            clock += f", not held down in {m['nvml_readings']} NVML readings"
        parts.append(clock)
    return "GPU over the timed pass: " + "; ".join(parts) if parts else None


def summary_text(result: dict) -> str:
    """The original's summary, with the figures it lacked and each throughput labelled."""
    m = result
    lines = [RULE, f"BENCHMARK RESULTS: {m['model']} on {m['device']} ({m['mode_label']}, batch {m['batch_size']})", RULE]
    if m["data"] == "synthetic":
        lines.append(f"Data: SYNTHETIC random images ({m['data_info']['reason']}); accuracy not measured")
    else:
        info = m["data_info"]
        lines.append(f"Data: {info['root']} ({info['scored']})")
        fidelity = info.get("input_fidelity") or {}
        if fidelity.get("images"):
            lines.append(f"Decoding: {info['decode']}, {workers_text(info['workers'])}; inputs vs PIL + the weights' "
                         f"transforms over {fidelity['images']} of the run's images: mean "
                         f"{fidelity['mean_abs_grey_levels']:.2f}, max {fidelity['max_abs_grey_levels']:.0f} grey levels"
                         + (" (exact within one grey level)" if fidelity["within_one_grey_level"] else ""))
    lines += [
        f"Weights: {m['weights']['loaded']}",
        f"Total images processed: {m['total_images']:,}" + (f" on {m['world_size']} processes" if m['world_size'] > 1 else ""),
        f"Total inference time: {m['total_time']:.3f} seconds (model only, {m['config']['warmup']} warm-up batches excluded)",
        f"Throughput (model only): {_num(m['model_images_per_second'])} images/second",
    ]
    if m["end_to_end_images_per_second"] is not None:
        ranks = (f" on {m['world_size']} ranks (one wall-clock window); rank 0, whose loader the next lines describe, "
                 f"was" if m["world_size"] > 1 else ";")
        lines.append(f"Throughput (end to end: loading + copy + model): {_num(m['end_to_end_images_per_second'])} "
                     f"images/second{ranks} waiting for data {_pct(m['stall_fraction'])} of the time")
        lines.append(f"Loader start-up (a warm-up batch per worker, beside the model's warm-up, not in the end-to-end "
                     f"figure): {m['startup_time_s']:.2f} s, of which the run waited {m['startup_wait_time_s']:.2f} s; "
                     f"the prepare threads waited for the workers {_pct(m['loader_wait_fraction'])} of the time")
        startup = m.get("startup_breakdown") or {}
        if startup:
            steps = (f" (context {startup['worker_context_s_max']:.2f}, decoder {startup['worker_decoder_s_max']:.2f}, "
                     f"resize {startup['worker_resize_s_max']:.2f})" if "worker_context_s_max" in startup else "")
            lines.append(f"  start-up: last worker up after {startup['last_worker_started_s']:.2f} s; worker init (CUDA, "
                         f"decoder) up to {startup['worker_init_s_max']:.2f} s{steps}; first batch read in up to "
                         f"{startup['first_fetch_s_max']:.2f} s, decoded in up to {startup['first_collate_s_max']:.2f} s; "
                         f"the last done after {startup['last_first_batch_done_s']:.2f} s, handed over in up to "
                         f"{startup['first_batch_delivery_s_max']:.2f} s")
        stages = m.get("worker_stage_ms_per_batch") or {}
        if stages and m.get("loader_capacity_images_per_second"):
            lines.append(f"Loader workers' time per batch: {sum(stages.values()):.1f} ms ("
                         + ", ".join(f"{stage} {ms:.1f}" for stage, ms in stages.items())
                         + f"); {workers_text(m['data_info']['workers'])} at that pace could deliver at most "
                         f"{_num(m['loader_capacity_images_per_second'])} images/second")
        busy = []
        if m.get("cpu_busy_percent") is not None:
            busy.append(f"{m['cpu_cores']} CPU cores busy {m['cpu_busy_percent']:.0f}% of the time")
        if m.get("gpu_kernel_busy_percent") is not None:
            busy.append(f"a GPU kernel running {m['gpu_kernel_busy_percent']:.0f}%")
        if m.get("jpeg_decoder_busy_percent") is not None:
            busy.append(f"the GPU's JPEG decoders busy {m['jpeg_decoder_busy_percent']:.0f}%")
        if busy:
            readings = f" (GPU: NVML, {m['nvml_readings']} readings)" if m.get("nvml_readings") else ""
            lines.append(f"Over the timed pass{readings}: " + ", ".join(busy))
    power = gpu_power_text(m)
    if power:
        lines.append(power)
    if m["world_size"] > 1:
        lines.append(f"Aggregate throughput ({m['world_size']} ranks, one wall-clock window): "
                     f"{_num(m['aggregate_images_per_second'])} images/second; model-only is the sum over "
                     f"ranks; times below are rank 0's (every rank's are in the JSON)")
    lines += [
        f"Average batch inference time: {1e3 * m['avg_batch_time']:.3f} ms",
        f"Standard deviation of batch time: {1e3 * m['std_batch_time']:.3f} ms",
        f"Min batch time: {1e3 * m['min_batch_time']:.3f} ms",
        f"Max batch time: {1e3 * m['max_batch_time']:.3f} ms",
        f"Batch time p50 / p90 / p99: {m['batch_time_ms_p50']:.3f} / {m['batch_time_ms_p90']:.3f} / "
        f"{m['batch_time_ms_p99']:.3f} ms",
    ]
    if m["compile_time_s"] is not None:
        options = ", ".join(f"{key}={value}" for key, value in (m.get("compile_options") or {}).items())
        lines.append(f"Compile time (not in the figures above): {m['compile_time_s']:.1f} s"
                     + (f"; inductor options: {options}" if options else ""))
    if m.get("rewrite_check"):
        check = m["rewrite_check"]
        lines.append(f"Rewrite check: relative difference {check['relative_diff']:.2g} from the reference model, "
                     f"top-1 agreement {_pct(check['top1_agreement'])}; batch-1 linear layers: "
                     f"{check['batch1_linear_kernel']}"
                     + (f"; max-pools in eager: {check['max_pool_kernel']}" if check.get("max_pool_kernel") else ""))
        if check.get("strided_conv_forms"):
            lines.append(f"Strided convolutions (checked batch, then one image): {'; '.join(check['strided_conv_forms'])}")
        if check.get("conv2_forms"):
            lines.append(f"conv2 (checked batch, then one image): {'; '.join(check['conv2_forms'])}")
    if m["top1_accuracy"] is not None:
        lines += [f"Top-1 accuracy: {_pct(m['top1_accuracy'])}", f"Top-5 accuracy: {_pct(m['top5_accuracy'])}"]
    if m.get("cpu_fallback_images"):
        lines.append(f"Files the GPU decoder could not take, decoded on the CPU: {m['cpu_fallback_images']:,}")
    if m.get("skipped_bad_images"):
        lines.append(f"Skipped undecodable images: {m['skipped_bad_images']}")
    lines.append(RULE)
    return "\n".join(lines)


def plot_run(result: dict, batch_times_ms, batch_accuracy):
    """Batch times over the run, their histogram, and per-batch accuracy where measured."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if batch_accuracy else 2
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2))
    steps = range(1, len(batch_times_ms) + 1)
    axes[0].plot(steps, batch_times_ms, marker=".", linewidth=1)
    axes[0].axhline(result["batch_time_ms_p50"], color="tab:red", linestyle="--", linewidth=1, label="p50")
    axes[0].set(title="Batch inference times (warm-up excluded)", xlabel="Batch number", ylabel="Time (ms)")
    axes[0].set_ylim(bottom=0)
    axes[0].legend()
    axes[1].hist(batch_times_ms, bins=min(40, max(5, len(batch_times_ms) // 2)), color="tab:blue")
    for key, color in (("p50", "tab:red"), ("p99", "tab:purple")):
        axes[1].axvline(result[f"batch_time_ms_{key}"], color=color, linestyle="--", label=key)
    axes[1].set(title="Latency histogram", xlabel="Batch time (ms)", ylabel="Batches")
    axes[1].legend()
    if batch_accuracy:
        axes[2].plot(range(1, len(batch_accuracy) + 1), [100 * a for a in batch_accuracy], marker=".", linewidth=1)
        axes[2].axhline(100 * result["top1_accuracy"], color="tab:red", linestyle="--", label="top-1 over all images")
        axes[2].set(title="Per-batch top-1 accuracy", xlabel="Batch number", ylabel="Accuracy (%)", ylim=(0, 100))
        axes[2].legend()
    for axis in axes:
        axis.grid(True, alpha=0.3)
    figure.suptitle(f"{result['model']} on {result['environment'].get('gpu', result['device'])}: "
                    f"{result['mode_label']}, batch {result['batch_size']}, {result['data']} data")
    figure.tight_layout()
    return figure


def sweep_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in CSV_COLUMNS})
    return out.getvalue()


def _mode_key(row) -> str:
    key = f"{row['precision']} {row['memory_format']} {row['execution']}"
    return key + " rewrite" if row.get("rewrite") else key


def plot_sweep(rows, title: str):
    """Throughput and p50 latency against batch size, one line per mode: colour = precision,
    solid = channels_last, dashed = contiguous, marker = execution, thick = rewrite."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    modes = {}
    for row in rows:
        if row["status"] == "ok":
            modes.setdefault(_mode_key(row), []).append(row)
    colours = {"fp32": "tab:blue", "tf32": "tab:green", "bf16": "tab:orange", "fp16": "tab:red"}
    markers = {"eager": "o", "cuda-graphs": "s", "compile": "^"}
    for label, cells in sorted(modes.items()):
        cells.sort(key=lambda r: r["batch_size"])
        first = cells[0]
        style = {"color": colours.get(first["precision"], "tab:gray"), "marker": markers.get(first["execution"], "o"),
                 "linestyle": "-" if first["memory_format"] == "channels_last" else "--",
                 "linewidth": 2.5 if first.get("rewrite") else 1.2, "label": label}
        sizes = [r["batch_size"] for r in cells]
        left.plot(sizes, [r["model_images_per_second"] for r in cells], **style)
        right.plot(sizes, [r["batch_time_ms_p50"] for r in cells], **style)
    for axis, ylabel in ((left, "Throughput, model only (images/s)"), (right, "Batch latency p50 (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set(xlabel="Batch size", ylabel=ylabel)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def sweep_table(rows) -> str:
    header = (f"{'precision':<9} {'format':<13} {'execution':<22} {'batch':>6} {'img/s':>12} "
              f"{'p50 ms':>9} {'p99 ms':>9} {'peak MiB':>9} {'compile s':>9} {'top-1':>8} {'GPU W':>6} {'img/J':>8}")
    lines = [header, "-" * len(header)]
    for r in rows:
        execution = r["execution"] + (" +rewrite" if r.get("rewrite") else "")
        if r["status"] != "ok":
            lines.append(f"{r['precision']:<9} {r['memory_format']:<13} {execution:<22} {r['batch_size']:>6} "
                         f"{'out of memory' if r['status'] == 'oom' else r['status']:>12}")
            continue
        lines.append(
            f"{r['precision']:<9} {r['memory_format']:<13} {execution:<22} {r['batch_size']:>6} "
            f"{_num(r['model_images_per_second']):>12} {r['batch_time_ms_p50']:>9.3f} {r['batch_time_ms_p99']:>9.3f} "
            f"{_num(r['peak_memory_mib'], ',.0f'):>9} {_num(r['compile_time_s'], '.1f'):>9} {_pct(r['top1_accuracy']):>8} "
            f"{_num(r.get('gpu_power_w'), ',.0f'):>6} {_num(r.get('images_per_gpu_joule')):>8}")
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        fastest = max(ok, key=lambda r: r["model_images_per_second"])
        lines.append(f"Fastest throughput: {_num(fastest['model_images_per_second'])} images/s with "
                     f"{_mode_key(fastest)} at batch {fastest['batch_size']}")
        smallest = min(r["batch_size"] for r in ok)
        quickest = min((r for r in ok if r["batch_size"] == smallest), key=lambda r: r["batch_time_ms_p50"])
        lines.append(f"Lowest batch-{smallest} latency: {quickest['batch_time_ms_p50']:.3f} ms p50 with "
                     f"{_mode_key(quickest)}")
    return "\n".join(lines)


def write_benchmark_files(outcome, files, say=print) -> None:
    """Print the summary (one cell) or the table (a sweep), and write it beside the JSON and the PNG
    (a sweep also gets its CSV); benchmark_results.txt becomes the newest printed summary."""
    records = outcome.records
    if len(records) == 1:
        record, raw = records[0], outcome.raws[0]
        text = summary_text(record)
        accuracy = ([hits / images for hits, images in zip(raw["batch_top1"], raw["batch_images"])]
                    if record["data"] != "synthetic" else None)
        figure = plot_run(record, raw["batch_times_ms"], accuracy)
        json_path = files.write_json(".json", record)
    else:
        text = sweep_table(records)
        figure = plot_sweep(records, f"{records[0]['model']} on "
                                     f"{records[0]['environment'].get('gpu', records[0]['environment']['cpu'])}, "
                                     f"{records[0]['data']} input")
        json_path = files.write_json(".json", {"records": records})
        say(f"CSV saved to {files.write_text('.csv', sweep_csv(records))}")
    say(text)
    summary = files.write_text(".txt", text + "\n")
    say(f"Plot saved to {files.save_figure('.png', figure)}")
    say(f"Summary saved to {summary} (also {files.latest(summary, 'benchmark_results.txt')})")
    say(f"Benchmark results saved to {json_path}")
