"""The arithmetic-intensity table and the roofline chart."""

MARKERS = "osD^vP*X"
LAYER_COLOURS = {"Conv2d": "tab:blue", "Linear": "tab:orange", "ReLU": "tab:green", "MaxPool2d": "tab:purple",
                 "AdaptiveAvgPool2d": "tab:brown"}
# the exact rewrites' layers (rewrites.py) take the colour of the layer they stand for
REWRITTEN_AS = {"SpaceToDepthConv2d": "Conv2d", "ConvReLU": "Conv2d", "WgmmaConv2d": "Conv2d", "LinearReLU": "Linear",
                "BiasReLU": "ReLU", "SkipIdentityAdaptiveAvgPool2d": "AdaptiveAvgPool2d"}


def layer_colour(type_name: str) -> str:
    return LAYER_COLOURS.get(REWRITTEN_AS.get(type_name, type_name), "tab:gray")


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def intensity_table(rows: list, ceilings: dict) -> str:
    measured = any(r.get("time_us") is not None for r in rows)
    scale, unit = (1e12, "TFLOP/s") if ceilings["peak_flops"] >= 1e12 else (1e9, "GFLOP/s")
    header = (f"{'layer':<13} {'type':<17} {'output shape':<18} {'FLOP':>12} {'MACs':>12} {'bytes':>12} "
              f"{'FLOP/B':>8} {'bound':>7}")
    if measured:
        header += f" {'time us':>10} {unit:>8} {'GB/s':>8} {'% roof':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(map(str, r["output_shape"]))
        line = (f"{r['name']:<13} {r['type'][:17]:<17} {shape:<18} {r['flop']:>12,} {r['macs']:>12,} "
                f"{r['bytes']:>12,} {r['intensity']:>8.2f} {r['bound']:>7}")
        if measured and r.get("fraction_of_roof") is not None:
            line += (f" {r['time_us']:>10.1f} {r['achieved_flops'] / scale:>8.3f} "
                     f"{r['achieved_bytes_per_s'] / 1e9:>8.1f} {100 * r['fraction_of_roof']:>6.1f}%")
        elif measured and r.get("time_us") is not None:
            line += f" {r['time_us']:>10.1f} {'-':>8} {'-':>8} {'-':>7}"
        lines.append(line)
    totals = {key: sum(r[key] for r in rows) for key in ("flop", "macs", "bytes", "flop_no_bias")}
    lines.append("-" * len(header))
    lines.append(f"{'total':<50} {totals['flop']:>12,} {totals['macs']:>12,} {totals['bytes']:>12,} "
                 f"{totals['flop'] / totals['bytes']:>8.2f}")
    lines.append(f"Conv + linear FLOP without bias (what FlopCounterMode counts): {totals['flop_no_bias']:,}")
    lines.append(f"Ceilings: {_si(ceilings['peak_flops'], 'FLOP/s')} ({ceilings['flops_source']}), "
                 f"{_si(ceilings['peak_bytes_per_s'], 'B/s')} ({ceilings['bandwidth_source']}); "
                 f"ridge point {ceilings['ridge']:.1f} FLOP/B")
    return "\n".join(lines)


def above_roof(results: list) -> list:
    """(batch size, layer name, fraction of roof) of every measured layer that ran above its roof."""
    return [(result["batch_size"], r["name"], r["fraction_of_roof"]) for result in results for r in result["layers"]
            if (r.get("fraction_of_roof") or 0) > 1.0]


ABOVE_ROOF_NOTE = ("{count} measured point(s) lie above the roof ({examples}). The ceilings are what the named "
                   "kernels reached; these layers' kernels did better (their tensors stay in cache, so they move "
                   "fewer bytes through memory than the minimum counted here, or use a faster path than the "
                   "ceiling's kernel): read the roof as a lower bound for them.")


def above_roof_note(results: list) -> str:
    above = above_roof(results)
    if not above:
        return ""
    examples = ", ".join(f"{name} at batch {batch} {100 * fraction:.0f}%" for batch, name, fraction in above[:3])
    return ABOVE_ROOF_NOTE.format(count=len(above), examples=examples + (", ..." if len(above) > 3 else ""))


def _dodge(axis, labels: list, fixed: list) -> None:
    """Move each label down, one step at a time, until it overlaps no label placed before it nor a fixed one."""
    renderer = axis.figure.canvas.get_renderer()
    placed = [text.get_window_extent(renderer) for text in fixed]
    for label in labels:
        x, y = label.get_position()
        for _ in range(60):
            box = label.get_window_extent(renderer).expanded(1.02, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
            y -= 7
            label.set_position((x, y))
        placed.append(label.get_window_extent(renderer))


def plot_roofline(results: list, ceilings: dict, title: str):
    """Log-log roofline: both ceilings, the ridge, and each layer at its intensity, one marker per batch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    peak, bandwidth, ridge = ceilings["peak_flops"], ceilings["peak_bytes_per_s"], ceilings["ridge"]
    scale, unit = (1e12, "TFLOP/s") if peak >= 1e12 else (1e9, "GFLOP/s")
    intensities = [r["intensity"] for res in results for r in res["layers"] if r["intensity"] > 0]
    low, high = min(intensities + [ridge]) / 4, max(intensities + [ridge]) * 4
    x = np.logspace(np.log10(low), np.log10(high), 200)
    figure, axis = plt.subplots(figsize=(11, 7))
    axis.plot(x, np.minimum(peak, x * bandwidth) / scale, color="black", linewidth=2)
    axis.axvline(ridge, color="gray", linestyle=":", linewidth=1)
    ceiling_labels = [
        axis.annotate(f"ridge {ridge:.0f} FLOP/B", (ridge, peak / scale), textcoords="offset points", xytext=(5, -15),
                      fontsize=8),
        axis.annotate(f"compute {_si(peak, 'FLOP/s')}", (high, peak / scale), ha="right", va="bottom", fontsize=8,
                      textcoords="offset points", xytext=(0, 3)),
        axis.annotate(f"bandwidth {_si(bandwidth, 'B/s')}", (low * 1.5, low * 1.5 * bandwidth / scale), fontsize=8,
                      rotation=35, textcoords="offset points", xytext=(0, 8))]
    points = []
    for index, result in enumerate(results):
        marker = MARKERS[index % len(MARKERS)]
        for r in result["layers"]:
            if r["intensity"] <= 0:
                continue
            y = r["achieved_flops"] if r.get("achieved_flops") is not None else r["roof_flops"]
            axis.scatter(r["intensity"], y / scale, marker=marker, s=45, color=layer_colour(r["type"]),
                         edgecolors="black", linewidths=0.5, zorder=3)
            points.append((y, r["intensity"], f"{r['name']}" + (f" ({result['batch_size']})" if len(results) > 1 else "")))
        axis.scatter([], [], marker=marker, color="white", edgecolors="black",
                     label=f"batch {result['batch_size']} ({'measured' if result['measured'] else 'on the roof'})")
    for kind, colour in LAYER_COLOURS.items():
        axis.scatter([], [], marker="s", color=colour, label=kind)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set(xlabel="Arithmetic intensity (FLOP / byte of minimum traffic)", ylabel=f"Performance ({unit})", title=title)
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=8, loc="lower right")
    note = above_roof_note(results)
    if note:
        figure.text(0.01, 0.005, note, fontsize=7, wrap=True, va="bottom")
    figure.tight_layout(rect=(0, 0.06 if note else 0, 1, 1))
    labels = [axis.annotate(name, (intensity, y / scale), fontsize=6.5, textcoords="offset points", xytext=(4, 2))
              for y, intensity, name in sorted(points, reverse=True)]     # top down, so labels move down
    _dodge(axis, labels, ceiling_labels)
    return figure
