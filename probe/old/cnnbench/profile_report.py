"""The profiler's text report and its per-layer bar chart."""

from .models import parameter_counts

KIND_COLOURS = {"conv": "tab:blue", "linear": "tab:orange", "activation": "tab:green",
                "pooling": "tab:purple", "other": "tab:gray"}


def section(title: str) -> str:
    return f"\n===== {title} =====\n"


def model_sections(model) -> str:
    """The original's model structure, per-part layer lists, parameter counts, names and shapes."""
    parts = [section("COMPLETE MODEL STRUCTURE"), str(model), ""]
    for child_name, child in model.named_children():
        parts.append(section(f"{child_name.upper()} SECTION"))
        if any(True for _ in child.children()):
            parts += [f"Layer {name}: {layer}" for name, layer in child.named_children()]
        else:
            parts.append(str(child))
    counts = parameter_counts(model)
    parts.append(section("PARAMETER COUNTS"))
    parts.append(f"Total parameters: {counts.pop('total'):,}")
    parts += [f"{name.capitalize()} parameters: {n:,}" for name, n in counts.items()]
    parts.append(section("LAYER NAMES AND SHAPES"))
    parts += [f"{name}: {tuple(p.shape)}" for name, p in model.named_parameters()]
    return "\n".join(parts)


def layer_table(result: dict) -> str:
    unit = "device" if result["device_type"] == "cuda" else "CPU"
    header = (f"{'layer':<14} {'type':<18} {'output shape':<20} {'act. MiB':>9} "
              f"{unit + ' us':>11} {'share':>7}  top {'kernel' if unit == 'device' else 'op'}")
    lines = [header, "-" * (len(header) + 30)]
    for layer in result["layers"]:
        top = layer["kernels"][0]["name"][:60] if layer["kernels"] else ""
        shape = "x".join(map(str, layer["output_shape"])) if layer["output_shape"] else "-"
        lines.append(f"{layer['name']:<14} {layer['type'][:18]:<18} {shape:<20} "
                     f"{layer['activation_bytes'] / 2**20:>9.2f} {layer['time_us']:>11.1f} "
                     f"{100 * layer['share']:>6.1f}%  {top}")
    lines.append("-" * (len(header) + 30))
    lines.append(f"{'sum of rows':<64} {result['sum_of_layers_us']:>11.1f} "
                 f"{100 * result['sum_of_layers_us'] / result['profiled_forward_us']:>6.1f}%")
    lines.append(f"Profiled forward ({result['time_basis']}, mean of {result['profiled_steps']} steps): "
                 f"{result['profiled_forward_us']:.1f} us")
    lines.append(f"Layers account for {100 * result['layers_coverage']:.1f}% of it; 'other' holds the rest "
                 f"(work launched outside any leaf module{', and hook overhead' if unit == 'CPU' else ''}).")
    lines.append(f"Unprofiled forward (the benchmark's timing, {result['unprofiled']['clock']}, median of "
                 f"{result['unprofiled']['iterations']}): {result['unprofiled']['median_ms'] * 1e3:.1f} us; "
                 f"profiled / unprofiled = {result['profiled_over_unprofiled']:.2f}")
    if result["peak_memory_mib"] is not None:
        lines.append(f"Peak memory during the forward: {result['peak_memory_mib']:.1f} MiB "
                     f"({result['forward_memory_mib']:.1f} MiB above weights and input)")
    else:
        lines.append("Peak memory: not measured on this device (CUDA only); activation sizes above")
    return "\n".join(lines)


def kernel_lists(result: dict) -> str:
    lines = []
    for layer in result["layers"]:
        if not layer["kernels"]:
            continue
        lines.append(f"{layer['name']} ({layer['type']}):")
        lines += [f"    {k['calls']:>5.1f} x {k['time_us']:>10.1f} us  {k['name'][:110]}" for k in layer["kernels"]]
    return "\n".join(lines)


def share_comparison(results: list) -> str:
    sizes = [r["batch_size"] for r in results]
    header = f"{'layer':<14} " + " ".join(f"{'bs ' + str(b):>9}" for b in sizes)
    lines = [header, "-" * len(header)]
    for i, layer in enumerate(results[0]["layers"]):
        lines.append(f"{layer['name']:<14} " + " ".join(f"{100 * r['layers'][i]['share']:>8.1f}%" for r in results))
    return "\n".join(lines)


def plot_layers(results: list, title: str):
    """Per-layer time as bars coloured by kind, one panel per batch size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    figure, axes = plt.subplots(len(results), 1, figsize=(12, 3.6 * len(results)), squeeze=False)
    for axis, result in zip(axes[:, 0], results):
        layers = result["layers"]
        axis.bar(range(len(layers)), [layer["time_us"] / 1e3 for layer in layers],
                 color=[KIND_COLOURS[layer["kind"]] for layer in layers])
        axis.set_xticks(range(len(layers)))
        axis.set_xticklabels([layer["name"] for layer in layers], rotation=45, ha="right", fontsize=8)
        axis.set_ylabel("time per forward (ms)")
        axis.set_title(f"batch {result['batch_size']}: forward {result['profiled_forward_us'] / 1e3:.3f} ms profiled, "
                       f"{result['unprofiled']['median_ms']:.3f} ms unprofiled", fontsize=10)
        axis.grid(True, axis="y", alpha=0.3)
    axes[0, 0].legend(handles=[Patch(color=c, label=k) for k, c in KIND_COLOURS.items()], ncol=5, fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
