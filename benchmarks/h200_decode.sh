#!/usr/bin/env bash
# End-to-end on real JPEGs: the original pipeline (PIL, 4 workers) against ours, on 16 cores.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; R=$OUT/results; mkdir -p "$R"
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
CORES=(taskset -c 0-15)   # the single-GPU machine's 16 cores, also on larger machines
RUN=(python3 alexnet/alexnet_benchmark.py --data-path /tmp/jpegs --num-batches 0 --batch-size 256
     --precision bf16 --channels-last --quiet --weights none --output-dir "$R")
{
log python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last --rewrite
log python3 alexnet/alexnet_benchmark.py --sweep --synthetic --precision fp16 --channels-last --executions eager,cuda-graphs --batch-sizes 1,256,4096 --rewrite --num-batches 30 --quiet --weights none --output-dir "$R"
log python3 alexnet/alexnet_profiler.py --precision fp16 --channels-last --rewrite --batch-sizes 4096 --steps 3 --weights none --output-dir "$R/profile_rewrite"
log python3 benchmarks/make_jpegs.py /tmp/jpegs --count 16000 --classes 100
log "${CORES[@]}" "${RUN[@]}" --decode pil --workers 4
log "${CORES[@]}" "${RUN[@]}" --decode cpu
log "${CORES[@]}" "${RUN[@]}" --decode gpu
log "${CORES[@]}" "${RUN[@]}" --decode gpu --gpu-decode-share 0.5
log "${CORES[@]}" "${RUN[@]}" --decode gpu --gpu-decode-share 0.8
log "${CORES[@]}" python3 benchmarks/decode_agreement.py /tmp/jpegs --limit 4000
} 2>&1 | tee "$OUT/decode_log.txt"
rm -f "$R"/*/*.trace.json
tar czf "$OUT/decode_results.tgz" -C "$OUT" results && rm -rf "$R"
