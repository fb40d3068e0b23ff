#!/usr/bin/env bash
# End to end on JPEGs, on a CUDA machine: the original pipeline (PIL, 4 workers) beside each GPU
# decoder, on same-size files (500x375) and on the ImageNet-like varied mix, batch 256 bf16
# channels_last. Usage: benchmarks/end_to_end.sh OUT_DIR DATA_DIR [CORES] [IMAGES]
#   DATA_DIR/same and DATA_DIR/varied are generated when missing (IMAGES each, default 25000); runs
#   are pinned to the first CORES cores (default: all). Every run's JSON, PNG and text and the log
#   go to OUT_DIR; nothing is deleted.
set -u
OUT=${1:?usage: end_to_end.sh OUT_DIR DATA_DIR [CORES] [IMAGES]}; DATA=${2:?DATA_DIR}
CORES=${3:-$(nproc)}; IMAGES=${4:-25000}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PIN=(); command -v taskset >/dev/null && PIN=(taskset -c "0-$((CORES - 1))")
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
{
echo "cores: $CORES of $(nproc)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
[ -d "$DATA/same" ] || python3 benchmarks/make_jpegs.py "$DATA/same" --count "$IMAGES" --classes 100 &
[ -d "$DATA/varied" ] || python3 benchmarks/make_jpegs.py "$DATA/varied" --count "$IMAGES" --classes 100 --varied &
wait
for SET in same varied; do
  RUN=("${PIN[@]}" python3 alexnet/alexnet_benchmark.py --data-path "$DATA/$SET" --batch-size 256 --precision bf16
       --channels-last --weights none --quiet --output-dir "$OUT/$SET")
  log timeout 300 "${RUN[@]}" --num-batches 20 --decode pil --workers 4      # the original pipeline
  for DECODE in nvjpeg nvimgcodec; do                                         # the default is the first that runs
    log timeout 300 "${RUN[@]}" --num-batches 0 --decode "$DECODE"
  done
done
} 2>&1 | grep -v -E "Warning|warn\(|warnings.warn" | tee "$OUT/end_to_end_log.txt"
