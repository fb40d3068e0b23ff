#!/usr/bin/env bash
# Execution modes on the device: the plain-loop anchors, the reference sweep, the rewrites and
# torch.compile, and the per-layer profile of the fastest eager form. Writes under $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; R=$OUT/results; mkdir -p "$R"
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
COMMON=(--quiet --weights none --output-dir "$R")
{
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv
python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.backends.cudnn.version())"
log python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last
log python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last --rewrite
log python3 alexnet/alexnet_profiler.py --precision fp16 --channels-last --rewrite --batch-sizes 4096 --steps 3 --weights none --output-dir "$R/profile_rewrite"
log python3 alexnet/alexnet_benchmark.py --sweep --precision fp32,tf32,bf16,fp16 --executions eager,cuda-graphs --batch-sizes 1,256,4096 --num-batches 30 "${COMMON[@]}"
log python3 alexnet/alexnet_benchmark.py --sweep --precision fp16,bf16 --channels-last --executions eager,cuda-graphs --batch-sizes 1,256,4096,8192 --num-batches 30 --rewrite "${COMMON[@]}"
log timeout 300 python3 alexnet/alexnet_benchmark.py --sweep --precision fp16 --channels-last --executions compile --compile max-autotune --batch-sizes 1,4096 --num-batches 30 --rewrite "${COMMON[@]}"
log timeout 150 python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last --rewrite --compile max-autotune
} 2>&1 | tee "$OUT/modes_log.txt"
rm -f "$R"/*/*.trace.json
tar czf "$OUT/modes_results.tgz" -C "$OUT" results && rm -rf "$R"
