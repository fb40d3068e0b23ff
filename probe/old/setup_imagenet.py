#!/usr/bin/env python3
"""Build DATA_DIR/val/<wnid>/*.JPEG from the official ImageNet archives or Kaggle's download, offline.

The front door of ./setup_imagenet.sh; the work is cnnbench.imagenet_setup.build_val_set.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from a checkout, no install

from cnnbench.cli import entry_point  # noqa: E402
from cnnbench.errors import DEFAULT_DATA_PATH  # noqa: E402
from cnnbench.imagenet_setup import build_val_set  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="setup_imagenet.sh", description="Build DATA_DIR/val/<wnid>/*.JPEG "
                                     "from the official ImageNet archives or Kaggle's download, offline.")
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_PATH,
                        help=f"folder holding the archives; val/ is built there (default: {DEFAULT_DATA_PATH})")
    parser.add_argument("--skip-checksum", action="store_true", help="do not verify the archives' md5 "
                        "(custom or partial archives)")
    return parser


@entry_point
def main(args) -> int:
    build_val_set(args.data_dir, skip_checksum=args.skip_checksum)
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
