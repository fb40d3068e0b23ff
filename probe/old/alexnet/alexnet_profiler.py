#!/usr/bin/env python3
"""Where the time goes in AlexNet (or any torchvision classifier): layer by layer, kernel by kernel.

Profiles the forward pass with torch.profiler on a wait/warm-up/active schedule and attributes
every device kernel to the leaf module that launched it. Writes results/<model>/ a text report
(and profiler_results.txt as the newest), a JSON with the same data, a Chrome/Perfetto trace per
batch size and a PNG of per-layer times.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from cnnbench.cli import (REWRITES, add_model_arguments, config_of, entry_point, int_list, output_dir,  # noqa: E402
                          positive_int, single_precision)
from cnnbench.data import choose_data  # noqa: E402
from cnnbench.device import resolve_device  # noqa: E402
from cnnbench.distributed import refuse_torchrun  # noqa: E402
from cnnbench.modes import Mode, check_mode  # noqa: E402
from cnnbench.profiler_run import run_profiler  # noqa: E402
from cnnbench.results import RunFiles  # noqa: E402

EPILOG = """examples:
  python alexnet/alexnet_profiler.py                                   # batch 32, fp32
  python alexnet/alexnet_profiler.py --batch-sizes 1,32,256 --precision bf16 --channels-last
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    group = parser.add_argument_group("profiling")
    group.add_argument("--batch-sizes", type=int_list, default=None,
                       help="profile each of these batch sizes, e.g. 1,32,256 (default: --batch-size)")
    group.add_argument("--steps", type=positive_int, default=5, help="active profiled steps, averaged (default: 5)")
    group.add_argument("--warmup", type=positive_int, default=3, help="profiler warm-up steps (default: 3)")
    group.add_argument("--rewrite", action="store_true", help=f"profile the {REWRITES}")
    return parser


@entry_point
def main(args) -> int:
    refuse_torchrun("alexnet_profiler.py")
    device = resolve_device(args.device)
    mode = Mode(single_precision(args), args.channels_last, rewrite=args.rewrite)
    check_mode(mode, device)
    data = choose_data(args.data_path, args.synthetic)
    with RunFiles(output_dir(args), "profiler_results") as files:    # a folder that can't take results fails now
        run_profiler(model=args.model, weights=args.weights, device=device, mode=mode, data=data,
                     batch_sizes=args.batch_sizes or [args.batch_size], steps=args.steps, warmup=args.warmup,
                     seed=args.seed, files=files, config=config_of(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
