"""The measured-bytes table and the hierarchical roofline chart (DRAM and L2 points per layer)."""

from .roofline_report import LAYER_COLOURS, _dodge, _si, layer_colour

MB = 1e6


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def counters_table(result: dict) -> str:
    """Per layer: kernels, time under ncu, FLOP (analytic and counted), minimum and measured bytes,
    intensities against DRAM and L2; then each layer's kernels, the layout conversions and the checks."""
    header = (f"{'layer':<14} {'type':<17} {'kern':>4} {'us (ncu)':>9} {'MFLOP':>10} {'counted':>7} {'min MB':>8} "
              f"{'DRAM rd':>8} {'DRAM wr':>8} {'DRAM/min':>8} {'L2 MB':>8} {'FLOP/B dram':>11} {'FLOP/B L2':>9}  note")
    lines = [header, "-" * len(header)]
    for r in result["layers"]:
        if not r["kernel_count"]:
            continue         # views (dropout in eval, flatten): no kernel, no traffic
        counted = (r["flop_counted"] / r["flop"]) if r["flop"] and r["flop_counted"] else None
        notes = []
        if r["below_minimum"]:
            notes.append(("below min: " + ("fits in L2" if r["fits_in_l2"] else "by less than the L2"))
                         if r["l2_explains_shortfall"] else "BELOW MIN BY MORE THAN THE L2")
        if r["layout_conversions"]["kernels"]:
            notes.append(f"{r['layout_conversions']['kernels']} layout conversions "
                         f"{r['layout_conversions']['time_us']:.1f} us")
        lines.append(
            f"{r['name']:<14} {r['type'][:17]:<17} {r['kernel_count']:>4} {r['time_us_under_ncu']:>9.1f} "
            f"{r['flop'] / 1e6:>10.1f} {_ratio(counted):>7} {r['min_bytes'] / MB:>8.2f} "
            f"{r['dram_read_bytes'] / MB:>8.2f} {r['dram_write_bytes'] / MB:>8.2f} {_ratio(r['dram_to_minimum']):>8} "
            f"{r['l2_bytes'] / MB:>8.2f} {r['intensity_dram']:>11.1f} {r['intensity_l2']:>9.1f}  {'; '.join(notes)}")
    lines.append("-" * len(header))
    rows = [r for r in result["layers"] if r["kernel_count"]]
    time_us = sum(r["time_us_under_ncu"] for r in rows)
    dram = sum(r["dram_bytes"] for r in rows)
    minimum = sum(r["min_bytes"] for r in rows)
    lines.append(f"{'total':<37} {time_us:>9.1f} {sum(r['flop'] for r in rows) / 1e6:>10.1f} {'':>7} "
                 f"{minimum / MB:>8.2f} {'':>17} {_ratio(dram / minimum if minimum else None):>8} "
                 f"{sum(r['l2_bytes'] for r in rows) / MB:>8.2f}")
    lines.append("counted = FLOP from the counters (tensor-core ops, FMA 2, add and multiply 1) / analytic FLOP; "
                 "above 1: padded tiles or extra arithmetic; '-': none counted (comparisons, integer work)")
    conversions = [r["layout_conversions"] for r in rows]
    converted = sum(c["kernels"] for c in conversions)
    if converted:
        lines.append(f"Layout conversions (cuDNN nchwToNhwc / nhwcToNchw, what channels_last avoids): {converted} "
                     f"kernels, {sum(c['time_us'] for c in conversions):.1f} us of {time_us:.1f} us, "
                     f"{sum(c['dram_bytes'] for c in conversions) / MB:.2f} MB of DRAM traffic")
    lines.append("Kernels per layer (time under ncu, DRAM read + write):")
    for r in rows:
        for k in r["kernels"]:
            mark = " [layout]" if k["layout_conversion"] else ""
            lines.append(f"  {r['name']:<14} {k['time_ns'] / 1e3:>8.1f} us {(k['dram_read_bytes'] + k['dram_write_bytes']) / MB:>8.2f} MB"
                         f"  {k['name'][:90]}{mark}")
    check = result["checks"]
    lines.append(f"Checks: {check['kernels']} kernels; per-layer sums equal ncu's totals: "
                 f"{'yes' if check['layers_sum_to_totals'] else 'NO'}; DRAM below the minimum: "
                 f"{', '.join(check['below_minimum_within_l2']) or 'none'} (by less than the "
                 f"{check['l2_capacity_bytes'] / 2**20:.0f} MiB L2 holds)"
                 + (f", UNEXPLAINED: {', '.join(check['below_minimum_unexplained'])}"
                    if check["below_minimum_unexplained"] else ""))
    return "\n".join(lines)


def plot_hierarchical_roofline(results: list, ceilings: dict, title: str):
    """Log-log, one panel per batch size side by side: the compute ceiling, DRAM and L2 bandwidth
    roofs, and each layer twice, at its intensity against DRAM bytes (filled) and against L2 bytes
    (hollow), joined by a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    peak, dram, l2 = ceilings["peak_flops"], ceilings["dram_bytes_per_s"], ceilings["l2_bytes_per_s"]
    scale = 1e12
    panels = [[r for r in result["layers"] if r["flop"] and r["kernel_count"] and r["dram_bytes"] and r["l2_bytes"]]
              for result in results]
    intensities = [v for rows in panels for r in rows for v in (r["intensity_dram"], r["intensity_l2"])] + [peak / dram]
    low, high = min(intensities) / 4, max(intensities) * 4
    x = np.logspace(np.log10(low), np.log10(high), 200)
    figure, axes = plt.subplots(1, len(results), figsize=(7.5 * len(results), 7), sharey=True, squeeze=False)
    for axis, result, rows in zip(axes[0], results, panels):
        axis.plot(x, np.minimum(peak, x * dram) / scale, color="black", linewidth=2)
        axis.plot(x, np.minimum(peak, x * l2) / scale, color="black", linewidth=1.2, linestyle="--")
        axis.annotate(f"compute {_si(peak, 'FLOP/s')}", (high, peak / scale), ha="right", va="bottom", fontsize=8,
                      textcoords="offset points", xytext=(0, 3))
        axis.annotate(f"DRAM {_si(dram, 'B/s')}", (low * 1.5, low * 1.5 * dram / scale), fontsize=8, rotation=35,
                      textcoords="offset points", xytext=(0, -14))
        axis.annotate(f"L2 {_si(l2, 'B/s')}", (low * 1.5, low * 1.5 * l2 / scale), fontsize=8, rotation=35,
                      textcoords="offset points", xytext=(0, 6))
        for r in rows:
            colour, y = layer_colour(r["type"]), r["flops_under_ncu"] / scale
            axis.plot([r["intensity_dram"], r["intensity_l2"]], [y, y], color=colour, linewidth=0.6, alpha=0.6)
            axis.scatter(r["intensity_dram"], y, s=45, color=colour, edgecolors="black", linewidths=0.5, zorder=3)
            axis.scatter(r["intensity_l2"], y, s=45, facecolors="none", edgecolors=colour, zorder=3)
        axis.scatter([], [], color="gray", label="against DRAM bytes (filled)")
        axis.scatter([], [], facecolors="none", edgecolors="gray", label="against L2 bytes (hollow)")
        for kind, colour in LAYER_COLOURS.items():
            axis.scatter([], [], marker="s", color=colour, label=kind)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set(xlabel="Arithmetic intensity (analytic FLOP / measured byte)", title=f"batch {result['batch_size']}")
        axis.grid(True, which="both", alpha=0.25)
        axis.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("Performance under ncu (TFLOP/s)")
    figure.suptitle(title)
    figure.tight_layout()
    for axis, rows in zip(axes[0], panels):
        labels = [axis.annotate(r["name"], (r["intensity_dram"], r["flops_under_ncu"] / scale), fontsize=6.5,
                                textcoords="offset points", xytext=(4, 2))
                  for r in sorted(rows, key=lambda r: -r["flops_under_ncu"])]     # top down, so labels move down
        _dodge(axis, labels, [text for text in axis.texts if text not in labels])
    return figure
