#!/usr/bin/env bash
# Build the ImageNet val set, offline, from the archives in DATA_DIR (default ./data/imagenet):
#   ./setup_imagenet.sh [DATA_DIR] [--skip-checksum]
# Official: ILSVRC2012_img_val.tar + ILSVRC2012_devkit_t12.tar.gz. Kaggle: LOC_val_solution.csv + ILSVRC/.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
exec "$python" "$root/setup_imagenet.py" "$@"
