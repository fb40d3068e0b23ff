"""The arithmetic-intensity table and the roofline chart."""

MARKERS = "osD^vP*X"


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def intensity_table(rows: list, ceilings: dict) -> str:
    measured = any(r.get("time_us") is not None for r in rows)
    header = (f"{'layer':<13} {'type':<17} {'output shape':<18} {'FLOP':>12} {'MACs':>12} {'bytes':>12} "
              f"{'FLOP/B':>8} {'bound':>7}")
    if measured:
        header += f" {'time us':>10} {'TFLOP/s':>8} {'GB/s':>8} {'% roof':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(map(str, r["output_shape"]))
        line = (f"{r['name']:<13} {r['type'][:17]:<17} {shape:<18} {r['flop']:>12,} {r['macs']:>12,} "
                f"{r['bytes']:>12,} {r['intensity']:>8.2f} {r['bound']:>7}")
        if measured and r.get("fraction_of_roof") is not None:
            line += (f" {r['time_us']:>10.1f} {r['achieved_flops'] / 1e12:>8.3f} "
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


def plot_roofline(results: list, ceilings: dict, title: str):
    """Log-log roofline: both ceilings, the ridge, and each layer at its intensity, one marker per batch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    peak, bandwidth, ridge = ceilings["peak_flops"], ceilings["peak_bytes_per_s"], ceilings["ridge"]
    intensities = [r["intensity"] for res in results for r in res["layers"] if r["intensity"] > 0]
    low, high = min(intensities + [ridge]) / 4, max(intensities + [ridge]) * 4
    x = np.logspace(np.log10(low), np.log10(high), 200)
    figure, axis = plt.subplots(figsize=(11, 7))
    axis.plot(x, np.minimum(peak, x * bandwidth) / 1e12, color="black", linewidth=2)
    axis.axvline(ridge, color="gray", linestyle=":", linewidth=1)
    axis.annotate(f"ridge {ridge:.0f} FLOP/B", (ridge, peak / 1e12), textcoords="offset points", xytext=(5, -15), fontsize=8)
    axis.annotate(f"compute {peak / 1e12:.1f} TFLOP/s", (high, peak / 1e12), ha="right", va="bottom", fontsize=8,
                  textcoords="offset points", xytext=(0, 3))
    axis.annotate(f"bandwidth {bandwidth / 1e9:,.0f} GB/s", (low * 1.5, low * 1.5 * bandwidth / 1e12), fontsize=8,
                  rotation=35, textcoords="offset points", xytext=(0, 8))
    colours = {"Conv2d": "tab:blue", "Linear": "tab:orange", "ReLU": "tab:green", "MaxPool2d": "tab:purple",
               "AdaptiveAvgPool2d": "tab:brown"}
    for index, result in enumerate(results):
        marker = MARKERS[index % len(MARKERS)]
        for r in result["layers"]:
            if r["intensity"] <= 0:
                continue
            y = r["achieved_flops"] if r.get("achieved_flops") is not None else r["roof_flops"]
            axis.scatter(r["intensity"], y / 1e12, marker=marker, s=45, color=colours.get(r["type"], "tab:gray"),
                         edgecolors="black", linewidths=0.5, zorder=3)
            axis.annotate(f"{r['name']}", (r["intensity"], y / 1e12), fontsize=6.5, textcoords="offset points",
                          xytext=(4, 2 if index == 0 else -8))
        axis.scatter([], [], marker=marker, color="white", edgecolors="black",
                     label=f"batch {result['batch_size']} ({'measured' if result['measured'] else 'on the roof'})")
    for kind, colour in colours.items():
        axis.scatter([], [], marker="s", color=colour, label=kind)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set(xlabel="Arithmetic intensity (FLOP / byte of minimum traffic)", ylabel="Performance (TFLOP/s)", title=title)
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure
