#!/usr/bin/env python3
"""Arithmetic intensity of every layer of AlexNet (or any torchvision classifier) on a roofline.

Counts FLOP, multiply-adds and minimum bytes per leaf layer from shapes seen in a real forward,
measures this machine's compute and bandwidth ceilings (or takes them as given), and with
--measure places each layer at its measured speed, timed by the profiler's per-layer timing.
With --counters (NVIDIA GPUs) Nsight Compute measures each layer's DRAM and L2 bytes, its kernels
and counted FLOP, on a hierarchical roofline.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from cnnbench.cli import (REWRITES, add_model_arguments, config_of, entry_point, int_list, output_dir,  # noqa: E402
                          positive_float, single_precision)
from cnnbench.data import choose_data  # noqa: E402
from cnnbench.device import resolve_device  # noqa: E402
from cnnbench.distributed import refuse_torchrun  # noqa: E402
from cnnbench.errors import UserError  # noqa: E402
from cnnbench.counters_run import run_counters  # noqa: E402
from cnnbench.modes import Mode, check_mode  # noqa: E402
from cnnbench.ncu import DEFAULT_NCU  # noqa: E402
from cnnbench.results import RunFiles  # noqa: E402
from cnnbench.roofline_run import run_roofline  # noqa: E402

EPILOG = """examples:
  python alexnet/alexnet_ai.py                                          # batch 1, fp32, ceilings measured
  python alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1,256 --measure
  python alexnet/alexnet_ai.py --peak-tflops 67 --peak-gbps 4800        # ceilings given, not measured
  python alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1,256 --counters   # measured DRAM/L2 bytes (ncu)
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
    group.add_argument("--rewrite", action="store_true",
                       help=f"analyse (and with --measure or --counters time and measure) the {REWRITES}; "
                            "compare with a run without")
    group.add_argument("--peak-tflops", type=positive_float, default=None,
                       help="compute ceiling to use instead of measuring, TFLOP/s")
    group.add_argument("--peak-gbps", type=positive_float, default=None,
                       help="memory bandwidth to use instead of measuring, GB/s")
    counters = parser.add_argument_group("measured bytes (NVIDIA GPUs, Nsight Compute)")
    counters.add_argument("--counters", action="store_true",
                          help="run the forward under Nsight Compute: per-layer DRAM and L2 bytes, counted FLOP "
                               "and kernels, on a hierarchical roofline")
    counters.add_argument("--cache", choices=("cold", "warm"), default=None,
                          help="with --counters: cold flushes every cache before each kernel (ncu's default), "
                               "warm keeps them (default: cold)")
    counters.add_argument("--ncu", type=Path, default=None,
                          help=f"with --counters: the ncu executable (default: ncu on PATH, else {DEFAULT_NCU})")
    return parser


@entry_point
def main(args) -> int:
    refuse_torchrun("alexnet_ai.py")
    precision = args.dtype or single_precision(args)
    if not (args.measure or args.counters) and (args.data_path is not None or args.synthetic):
        raise UserError("--data-path and --synthetic choose the input that --measure or --counters runs; "
                        "without them no input is read (FLOP and bytes come from shapes)")
    if not args.counters and (args.cache or args.ncu):
        raise UserError("--cache and --ncu apply to --counters")
    if args.counters and args.measure:
        raise UserError("--counters times each layer under Nsight Compute and --measure with the profiler: "
                        "choose one")
    device = resolve_device(args.device)
    mode = Mode(precision, args.channels_last, rewrite=args.rewrite)
    check_mode(mode, device)
    data = choose_data(args.data_path, args.synthetic or not (args.measure or args.counters))
    batch_sizes = args.batch_sizes or [args.batch_size]
    if args.counters:
        with RunFiles(output_dir(args), "measured_bytes_results") as files:
            run_counters(model=args.model, weights=args.weights, device=device, mode=mode, data=data,
                         batch_sizes=batch_sizes, seed=args.seed, cache=args.cache or "cold", ncu_path=args.ncu,
                         peak_tflops=args.peak_tflops, peak_gbps=args.peak_gbps, files=files, config=config_of(args))
        return 0
    with RunFiles(output_dir(args), "arithmetic_intensity_results") as files:  # a folder that can't take results fails now
        run_roofline(model=args.model, weights=args.weights, device=device, mode=mode, data=data,
                     batch_sizes=batch_sizes, measure=args.measure, seed=args.seed,
                     peak_tflops=args.peak_tflops, peak_gbps=args.peak_gbps, files=files, config=config_of(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
