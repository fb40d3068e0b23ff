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

from cnnbench.cli import (add_model_arguments, config_of, entry_point, int_list, output_dir, positive_float,  # noqa: E402
                          single_precision)
from cnnbench.data import choose_data  # noqa: E402
from cnnbench.device import resolve_device  # noqa: E402
from cnnbench.errors import UserError  # noqa: E402
from cnnbench.modes import Mode, check_mode  # noqa: E402
from cnnbench.results import RunFiles  # noqa: E402
from cnnbench.roofline_run import run_roofline  # noqa: E402

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
    group.add_argument("--peak-tflops", type=positive_float, default=None,
                       help="compute ceiling to use instead of measuring, TFLOP/s")
    group.add_argument("--peak-gbps", type=positive_float, default=None,
                       help="memory bandwidth to use instead of measuring, GB/s")
    return parser


@entry_point
def main(args) -> int:
    precision = args.dtype or single_precision(args)
    if not args.measure and (args.data_path is not None or args.synthetic):
        raise UserError("--data-path and --synthetic choose the input that --measure times; without --measure "
                        "no input is read (FLOP and bytes come from shapes)")
    device = resolve_device(args.device)
    mode = Mode(precision, args.channels_last)
    check_mode(mode, device)
    data = choose_data(args.data_path, args.synthetic or not args.measure)
    with RunFiles(output_dir(args), "arithmetic_intensity_results") as files:  # a folder that can't take results fails now
        run_roofline(model=args.model, weights=args.weights, device=device, mode=mode, data=data,
                     batch_sizes=args.batch_sizes or [args.batch_size], measure=args.measure, seed=args.seed,
                     peak_tflops=args.peak_tflops, peak_gbps=args.peak_gbps, files=files, config=config_of(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
