#!/usr/bin/env bash
# End-to-end on real JPEGs, in one call: the original pipeline (PIL, 4 workers) against ours on 16
# cores, the gpu path's stages, decode agreement, and a check of kernel_table. Writes under $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; R=$OUT/results; mkdir -p "$R"
log() { echo; echo "### $*"; /usr/bin/time -f "### wall %e s" "$@"; echo "### rc=$?"; }
CORES=(taskset -c 0-15)   # the single-GPU machine's 16 cores, also on larger machines
JPEGS=${JPEGS:-25000}
RUN=(python3 alexnet/alexnet_benchmark.py --data-path /tmp/jpegs --batch-size 256
     --precision bf16 --channels-last --quiet --weights none --output-dir "$R")
{
nproc; nvidia-smi --query-gpu=name,driver_version --format=csv
log python3 benchmarks/make_jpegs.py /tmp/jpegs --count "$JPEGS" --classes 100
log timeout 90 "${CORES[@]}" "${RUN[@]}" --num-batches 20 --decode pil --workers 4
log timeout 90 "${CORES[@]}" "${RUN[@]}" --num-batches 0                       # the defaults: gpu, 8 workers
log timeout 90 "${CORES[@]}" "${RUN[@]}" --num-batches 0 --decode gpu --workers 15
log timeout 90 "${CORES[@]}" "${RUN[@]}" --num-batches 40 --decode cpu
log timeout 90 "${CORES[@]}" python3 benchmarks/decode_stages.py /tmp/jpegs --batch-size 256 --batches 12
log timeout 120 "${CORES[@]}" python3 benchmarks/decode_agreement.py /tmp/jpegs --limit 2000
log timeout 120 python3 benchmarks/kernel_table.py --batch-size 1 --precision fp16 --channels-last --rewrite --compile default --cuda-graphs
} 2>&1 | grep -v -E "Warning|_warn_once|warnings.warn" | tee "$OUT/decode_log.txt"
tar czf "$OUT/decode_results.tgz" -C "$OUT" results && rm -rf "$R"
