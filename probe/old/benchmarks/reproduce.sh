#!/usr/bin/env bash
# Regenerate the reference results (results/alexnet/h200/ was made this way) on any NVIDIA GPU.
# Usage: benchmarks/reproduce.sh OUT_DIR [CORES] [DATA_DIR] [STAGES] [IMAGES]
#   CORES      pin the runs to the first CORES cores (default: all)
#   DATA_DIR   where the generated JPEG sets go (default: OUT_DIR/jpegs)
#   STAGES     comma-separated, from: anchors,targets,sweep,profile,roofline,measured-bytes,end-to-end,acceptance
#              (default: all)
#   IMAGES     JPEGs per generated set for end-to-end (default: 25000)
# Each stage writes OUT_DIR/<stage>/ and OUT_DIR/<stage>/log.txt; nothing is deleted. Random weights
# throughout (timings do not depend on them); the acceptance stage uses a random stand-in file in
# its own TORCH_HOME where pretrained weights cannot be downloaded.
set -u
OUT=${1:?usage: reproduce.sh OUT_DIR [CORES] [DATA_DIR] [STAGES] [IMAGES]}
CORES=${2:-$(nproc)}; DATA=${3:-$OUT/jpegs}; STAGES=${4:-anchors,targets,sweep,profile,roofline,measured-bytes,end-to-end,acceptance}
IMAGES=${5:-25000}
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PIN=(); command -v taskset >/dev/null && PIN=(taskset -c "0-$((CORES - 1))")
COMMON=(--weights none --quiet)
wants() { [[ ",$STAGES," == *",$1,"* ]]; }
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
stage() { mkdir -p "$OUT/$1"; echo "=== $1 at $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"; }

if wants anchors; then stage anchors; {
  for FLAGS in "--batch-size 32" "--batch-size 256 --precision bf16 --channels-last" \
               "--batch-size 4096 --precision fp16 --channels-last --rewrite --compile default"; do
    log "${PIN[@]}" python3 alexnet/alexnet_benchmark.py --synthetic $FLAGS "${COMMON[@]}" --output-dir "$OUT/anchors"
    log "${PIN[@]}" python3 benchmarks/plain_loop.py $FLAGS
  done; } 2>&1 | tee "$OUT/anchors/log.txt"; fi

# the fastest exact forms: batch 4096 throughput and batch-1 latency (compiled, graphed, rewritten)
if wants targets; then stage targets; {
  for FLAGS in "--batch-size 4096 --precision bf16" "--batch-size 1 --precision fp16"; do
    FLAGS="$FLAGS --channels-last --rewrite --compile default --cuda-graphs"
    log "${PIN[@]}" python3 alexnet/alexnet_benchmark.py --synthetic $FLAGS --num-batches 200 "${COMMON[@]}" \
        --output-dir "$OUT/targets"
    log "${PIN[@]}" python3 benchmarks/plain_loop.py $FLAGS --iterations 200
  done; } 2>&1 | tee "$OUT/targets/log.txt"; fi

if wants sweep; then stage sweep; {
  log "${PIN[@]}" python3 alexnet/alexnet_benchmark.py --sweep --precision fp16,bf16 --channels-last --rewrite \
      --executions eager,cuda-graphs,compile,compile+cuda-graphs --batch-sizes 1,256,4096 --num-batches 30 \
      "${COMMON[@]}" --output-dir "$OUT/sweep"; } 2>&1 | tee "$OUT/sweep/log.txt"; fi

if wants profile; then stage profile; {
  log "${PIN[@]}" python3 alexnet/alexnet_profiler.py --precision bf16 --batch-sizes 32,256 --weights none \
      --output-dir "$OUT/profile"; } 2>&1 | tee "$OUT/profile/log.txt"; fi

if wants roofline; then stage roofline; {
  log "${PIN[@]}" python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1,256 --measure --weights none \
      --output-dir "$OUT/roofline"; } 2>&1 | tee "$OUT/roofline/log.txt"; fi

if wants measured-bytes; then stage measured-bytes; {
  for FLAGS in "--batch-sizes 1,256" "--batch-sizes 256 --channels-last" "--batch-sizes 256 --cache warm"; do
    log "${PIN[@]}" python3 alexnet/alexnet_ai.py --dtype bf16 $FLAGS --counters --weights none \
        --output-dir "$OUT/measured-bytes"
  done; } 2>&1 | tee "$OUT/measured-bytes/log.txt"; fi

if wants end-to-end; then stage end-to-end; bash benchmarks/end_to_end.sh "$OUT/end-to-end" "$DATA" "$CORES" "$IMAGES"; fi

if wants acceptance; then stage acceptance; log python3 benchmarks/gpu_acceptance.py "$OUT/acceptance"; fi
