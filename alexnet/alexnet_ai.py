#!/usr/bin/env python3
"""Arithmetic intensity of every layer of AlexNet (or any torchvision classifier) on a roofline.

Counts FLOP, multiply-adds and minimum bytes per leaf layer from shapes seen in a real forward,
measures this machine's compute and bandwidth ceilings (or takes them as given), and with
--measure places each layer at its measured speed, timed by the profiler's per-layer timing.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from cnnbench.cli import add_model_arguments, entry_point, int_list, output_dir, single_precision  # noqa: E402
from cnnbench.data import choose_data, input_batch  # noqa: E402
from cnnbench.device import environment, resolve_device  # noqa: E402
from cnnbench.intensity import layer_costs, machine_ceilings  # noqa: E402
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import DTYPES, Mode, Runner, check_mode  # noqa: E402
from cnnbench.profiling import profile_layers  # noqa: E402
from cnnbench.results import config_of, reserve_stem, save_figure, timestamp, write_json, write_text  # noqa: E402
from cnnbench.roofline_report import intensity_table, plot_roofline  # noqa: E402

EPILOG = """examples:
  python alexnet/alexnet_ai.py                                          # batch 1, fp32, ceilings measured
  python alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1,256 --measure
  python alexnet/alexnet_ai.py --peak-tflops 67 --peak-gbps 4800        # ceilings given, not measured
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser, default_batch_size=1)
    group = parser.add_argument_group("roofline")
    group.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default=None,
                       help="element type for bytes and for the compute ceiling (default: --precision, fp32)")
    group.add_argument("--batch-sizes", type=int_list, default=None,
                       help="analyse each batch size, all on one chart, e.g. 1,256 (default: --batch-size)")
    group.add_argument("--measure", action="store_true",
                       help="time every layer on the device (profiler's per-layer timing) and plot it")
    group.add_argument("--peak-tflops", type=float, default=None, help="compute ceiling to use instead of measuring")
    group.add_argument("--peak-gbps", type=float, default=None, help="memory bandwidth to use instead of measuring")
    return parser


def analyse(loaded, args, device, mode, data, batch_size: int, ceilings) -> dict:
    costs = layer_costs(loaded.model, batch_size, mode.compute_dtype)
    times = {}
    if args.measure:
        runner = Runner(loaded.model, mode, device)
        runner.load(input_batch(data, loaded.transforms, batch_size, args.seed))
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
            seconds = time_us / 1e6
            row.update(achieved_flops=cost.flop / seconds, achieved_bytes_per_s=cost.bytes / seconds,
                       fraction_of_roof=cost.flop / seconds / row["roof_flops"])
        rows.append(row)
    return {"batch_size": batch_size, "measured": bool(times), "layers": rows,
            "time_basis": profiled.time_basis if times else None}


@entry_point
def main(args) -> int:
    precision = args.dtype or single_precision(args)
    device = resolve_device(args.device)
    mode = Mode(precision, args.channels_last)
    check_mode(mode, device)
    data = choose_data(args.data_path, args.synthetic or not args.measure)
    loaded = load_model(args.model, args.weights, args.seed, allow_random_fallback=True)
    if loaded.notice and args.measure:
        print(loaded.notice, file=sys.stderr)
    print(f"Ceilings on {device} for {precision}: "
          f"{'measuring' if not (args.peak_tflops and args.peak_gbps) else 'given'}...")
    ceilings = machine_ceilings(device, DTYPES[precision], args.peak_tflops, args.peak_gbps)
    ceiling_info = {"peak_flops": ceilings.peak_flops, "peak_bytes_per_s": ceilings.peak_bytes_per_s,
                    "ridge": ceilings.ridge, "flops_source": ceilings.flops_source,
                    "bandwidth_source": ceilings.bandwidth_source}
    results = [analyse(loaded, args, device, mode, data, batch_size, ceilings)
               for batch_size in args.batch_sizes or [args.batch_size]]

    env = environment(device)
    report = [f"ARITHMETIC INTENSITY: {args.model}, {mode.label()}, on {env.get('gpu', env['cpu'])} ({device})",
              "FLOP = 2 per multiply-add, plus bias adds, ReLU and pooling comparisons; bytes = minimum traffic "
              "(inputs and weights read once, output written once; in-place ReLU reads and writes each element).",
              f"Measured layer times: {results[0]['time_basis'] if args.measure else 'not measured (use --measure)'}"
              + ("" if not args.measure else f"; input: {'synthetic' if data.synthetic else data.root}")]
    for result in results:
        report += ["", f"--- batch {result['batch_size']} ---", intensity_table(result["layers"], ceiling_info)]
    text = "\n".join(report) + "\n"
    print(text)
    stem = reserve_stem(output_dir(args), f"arithmetic_intensity_results_{timestamp()}", (".txt", ".json", ".png"))
    write_text(stem.with_suffix(".txt"), text)
    write_json(stem.with_suffix(".json"), {"model": args.model, "device": str(device), "mode": mode.as_dict(),
                                           "ceilings": ceiling_info, "batch_sizes": results,
                                           "config": config_of(args), "environment": env})
    save_figure(stem.with_suffix(".png"), plot_roofline(
        results, ceiling_info, f"{args.model} roofline on {env.get('gpu', env['cpu'])}, {precision}"))
    print(f"Report: {stem.with_suffix('.txt')}\nData: {stem.with_suffix('.json')}\nPlot: {stem.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
