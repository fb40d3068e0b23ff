#!/usr/bin/env python3
"""Inference throughput, latency and ImageNet accuracy of AlexNet (or any torchvision classifier).

Writes results/<model>/<model>_<data>_<timestamp>_<pid>.json, a PNG and the printed summary (.txt)
beside it, and benchmark_results.txt as the newest summary; --batch-sizes and --sweep write a sweep
JSON, CSV, PNG and table. Runs under torchrun for several GPUs or machines.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

if __name__ == "__main__":   # first, so that the GPU decode workers' imports overlap the ones below
    from cnnbench.worker_server import start_worker_server_early
    start_worker_server_early()

from cnnbench import distributed  # noqa: E402
from cnnbench.benchmark import run_benchmark  # noqa: E402
from cnnbench.benchmark_report import write_benchmark_files  # noqa: E402
from cnnbench.cli import (REWRITES, add_model_arguments, choice_list, config_of, entry_point, fraction,  # noqa: E402
                          int_list, non_negative_int, output_dir)
from cnnbench.data import DECODERS, GPU_SHARE, choose_data  # noqa: E402
from cnnbench.errors import UserError  # noqa: E402
from cnnbench.modes import EXECUTIONS, check_mode, modes_for  # noqa: E402
from cnnbench.results import RunFiles  # noqa: E402

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
EPILOG = """examples:
  python alexnet/alexnet_benchmark.py                              # ImageNet val if present, else synthetic
  python alexnet/alexnet_benchmark.py --data-path ./data/imagenet --num-batches 0   # the full val set
  python alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --channels-last
  python alexnet/alexnet_benchmark.py --sweep --precision fp32,bf16 --batch-sizes 1,32,256
  torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --synthetic --batch-size 256
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    run = parser.add_argument_group("benchmark")
    run.add_argument("--num-batches", type=non_negative_int, default=50,
                     help="batches to score: a seeded random subset of the val set; 0 = all; with "
                          "synthetic input, batches to time (0 means 50) (default: 50)")
    run.add_argument("--warmup", type=non_negative_int, default=10,
                     help="untimed forwards per batch shape before timing (default: 10)")
    run.add_argument("--batch-sizes", type=int_list, default=None,
                     help="comma-separated batch sizes to run in one process, e.g. 1,8,32,256")
    run.add_argument("--amp", action="store_true", help="autocast to --precision instead of casting the model")
    run.add_argument("--compile", nargs="?", const="default", default=None, choices=COMPILE_MODES,
                     metavar="MODE", help=f"torch.compile the model (MODE: {', '.join(COMPILE_MODES)}; default: default)")
    run.add_argument("--cuda-graphs", action="store_true",
                     help="capture the forward as a CUDA graph and replay it (with --compile: the compiled forward)")
    run.add_argument("--rewrite", action="store_true",
                     help=f"run the {REWRITES}")
    run.add_argument("--sweep", action="store_true",
                     help="run the grid precisions x memory formats x executions x batch sizes "
                          "(synthetic input unless --data-path is given)")
    run.add_argument("--executions", type=choice_list(EXECUTIONS), default=None,
                     help=f"executions in a sweep, from {','.join(EXECUTIONS)} (default: all on CUDA, "
                          f"compile+cuda-graphs only with a compile mode that does not capture graphs itself; "
                          f"eager elsewhere)")
    run.add_argument("--decode", choices=DECODERS, default=None,
                     help="JPEG decoding: pil (the original pipeline), cpu (libjpeg-turbo in the workers), "
                          "gpu (in each worker on the GPU: nvjpeg, else nvimgcodec), or one of nvjpeg, "
                          "nvimgcodec by name; nvimgcodec's inputs are closest to PIL's (default: gpu where "
                          "available, else cpu)")
    run.add_argument("--gpu-decode-share", type=fraction, default=None,
                     help=f"with a gpu decoder, the share of images it decodes; the workers decode the "
                          f"rest with libjpeg-turbo (default: {GPU_SHARE})")
    run.add_argument("--skip-bad-images", action="store_true",
                     help="skip undecodable images (counted in the JSON) instead of stopping")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def check_flags(args) -> None:
    """Flags that would do nothing in the chosen run are refused, with the reason."""
    synthetic = args.synthetic or (args.sweep and args.data_path is None)
    if synthetic:
        for flag, given in (("--decode", args.decode), ("--gpu-decode-share", args.gpu_decode_share),
                            ("--workers", args.workers), ("--skip-bad-images", args.skip_bad_images or None)):
            if given is not None:
                raise UserError(f"{flag} does nothing on synthetic input (no files are read); drop it, or give "
                                f"--data-path without --synthetic")
    if args.gpu_decode_share is not None and args.decode in ("pil", "cpu"):
        raise UserError(f"--gpu-decode-share does nothing with --decode {args.decode} (no GPU decoder runs)")
    if args.executions is not None and not args.sweep:
        raise UserError("--executions chooses a sweep's executions; without --sweep use --compile / --cuda-graphs")
    if len(args.precision) != 1 and not args.sweep:
        raise UserError("--precision takes one value here (a list only with --sweep)")


@entry_point
def main(args) -> int:
    check_flags(args)
    context, device = distributed.init_from_env(args.device)
    try:
        modes = modes_for(precisions=args.precision, channels_last=args.channels_last, compile_mode=args.compile,
                          cuda_graphs=args.cuda_graphs, amp=args.amp, rewrite=args.rewrite, sweep=args.sweep,
                          executions=args.executions, device=device)
        for mode in modes:
            check_mode(mode, device)
        batch_sizes = args.batch_sizes or [args.batch_size]
        data = choose_data(args.data_path, args.synthetic or (args.sweep and args.data_path is None))
        kind = "sweep" if len(modes) * len(batch_sizes) > 1 else ("synthetic" if data.synthetic else "imagenet")
        files = RunFiles(output_dir(args), f"{args.model}_{kind}") if context.is_main else None
        say = print if context.is_main else (lambda *a, **k: None)
        outcome = run_benchmark(
            model=args.model, weights=args.weights, device=device, modes=modes, batch_sizes=batch_sizes,
            data=data, num_batches=args.num_batches,
            images_to_score=args.num_batches * args.batch_size, warmup=args.warmup, workers=args.workers,
            decode=args.decode, gpu_decode_share=GPU_SHARE if args.gpu_decode_share is None else args.gpu_decode_share,
            skip_bad_images=args.skip_bad_images, seed=args.seed, progress=not args.quiet and context.is_main,
            config=config_of(args), context=context, say=say)
        if context.is_main:
            with files:
                write_benchmark_files(outcome, files, say)
        return 0
    finally:
        distributed.shutdown(context)


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
