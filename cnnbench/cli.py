"""What every script's command line shares: common flags, value checks and error handling."""

import argparse
import functools
import sys
from pathlib import Path

from .errors import DEFAULT_DATA_PATH, REPO_ROOT, UserError

PRECISIONS = ("fp32", "tf32", "fp16", "bf16")
# What --rewrite does, for each script's help (docs/method.md has the whole list)
REWRITES = ("exactly equivalent, faster forms of the layers, checked against the reference model at run time: "
            "a strided convolution over few channels (conv1) read straight from the image, with the ReLU and "
            "max-pool after it (fp16/bf16 channels_last on CUDA, two images or more: AlexNet's conv1, bias, pool "
            "and ReLU as one CUDA kernel on Hopper's wgmma, else in pixel pairs through Triton with the pool's "
            "row part), else as space-to-depth + stride-1 conv; AlexNet's conv2 as one CUDA kernel on Hopper's "
            "wgmma (fp16/bf16 channels_last, 16 images or more); bias and ReLU after max-pooling; ReLU fused into "
            "the convolution "
            "or linear layer before it (a Triton pass over the weights at batch 1); each max-pool with the bias and "
            "ReLU after it as one Triton kernel (a compiled single image keeps inductor's)")


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _number(text: str, accept, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def positive_float(text: str) -> float:
    return _number(text, lambda value: 0 < value < float("inf"), "a positive number")


def fraction(text: str) -> float:
    return _number(text, lambda value: 0 <= value <= 1, "a fraction between 0 and 1")


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive integer, got {text}")
    return value


def int_list(text: str) -> list:
    """'1,8,32' -> [1, 8, 32]; every value positive."""
    try:
        values = [positive_int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError("expected at least one value")
    return values


def choice_list(choices):
    """A parser for 'a,b' whose every item is one of `choices`."""

    def parse(text: str) -> list:
        values = [part.strip() for part in text.split(",") if part.strip()]
        bad = [v for v in values if v not in choices]
        if bad or not values:
            raise argparse.ArgumentTypeError(
                f"invalid choice {','.join(bad) or text!r} (choose from {', '.join(choices)})")
        return values

    return parse


def add_model_arguments(parser: argparse.ArgumentParser, default_batch_size: int = 32) -> None:
    """Flags that mean the same thing in all three scripts."""
    group = parser.add_argument_group("model and device")
    group.add_argument("--model", default="alexnet",
                       help="any torchvision classification model (default: alexnet)")
    group.add_argument("--weights", default="DEFAULT",
                       help="DEFAULT (pretrained, torchvision's cache or download), a weight enum "
                            "name such as IMAGENET1K_V1, 'none' (random init), or a path to a "
                            "local state-dict file (default: DEFAULT)")
    group.add_argument("--device", default="auto",
                       help="auto (cuda, else mps, else cpu), cuda, cuda:N, mps or cpu (default: auto)")
    group.add_argument("--batch-size", type=positive_int, default=default_batch_size,
                       help=f"images per batch (default: {default_batch_size})")
    group.add_argument("--precision", type=choice_list(PRECISIONS), default=["fp32"],
                       help="fp32 (TF32 off), tf32, fp16 or bf16; the benchmark's --sweep takes a "
                            "comma-separated list (default: fp32)")
    group.add_argument("--channels-last", action="store_true",
                       help="run in the channels_last memory format (default: off)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed for random weights, synthetic input and subsets (default: 0)")
    group.add_argument("--output-dir", type=Path, default=None,
                       help="where results go (default: results/<model>/)")
    data = parser.add_argument_group("data")
    data.add_argument("--data-path", type=Path, default=None,
                      help=f"ImageNet val set: class folders named by wnid under PATH/val or PATH "
                           f"(default: {DEFAULT_DATA_PATH.relative_to(REPO_ROOT)}; synthetic input "
                           f"when that holds no dataset)")
    data.add_argument("--synthetic", action="store_true",
                      help="benchmark random images even where a dataset is present")
    data.add_argument("--workers", type=non_negative_int, default=None,
                      help="data loading worker processes (default: 4 with PIL decoding, as the "
                           "original; all cores but one with cpu decoding; up to 8 with gpu decoding)")



def output_dir(args) -> Path:
    return args.output_dir if args.output_dir is not None else REPO_ROOT / "results" / args.model


def single_precision(args) -> str:
    if len(args.precision) != 1:
        raise UserError("--precision takes one value here (a list only with --sweep)")
    return args.precision[0]


def entry_point(main):
    """Wrap a script's main(args) so that expected mistakes print one line and return a code."""

    @functools.wraps(main)
    def wrapped(args) -> int:
        try:
            return main(args)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapped


def config_of(args) -> dict:
    """Every flag's value, as the run saw it."""
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
