#!/usr/bin/env bash
# Execution modes on the device: plain-loop anchors, the reference sweep of the rewritten model
# (eager, CUDA graphs, torch.compile, both), the stock model compiled for comparison, and where
# the time goes (per layer in eager, per kernel compiled). Writes under $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; R=$OUT/results; mkdir -p "$R"
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
COMMON=(--quiet --weights none --output-dir "$R")
{
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv
python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.backends.cudnn.version())"
log python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last --rewrite --compile default
log python3 benchmarks/plain_loop.py --batch-size 4096 --precision fp16 --channels-last --rewrite
log python3 benchmarks/kernel_table.py --batch-size 1 --precision fp16 --channels-last --rewrite --compile default --cuda-graphs
log python3 benchmarks/kernel_table.py --batch-size 4096 --precision fp16 --channels-last --rewrite --compile default --iterations 30
log python3 alexnet/alexnet_profiler.py --precision fp16 --channels-last --rewrite --batch-sizes 1,4096 --steps 3 --weights none --output-dir "$R/profile_rewrite"
log timeout 420 python3 alexnet/alexnet_benchmark.py --sweep --precision fp16,bf16 --channels-last --rewrite --executions eager,cuda-graphs,compile,compile+cuda-graphs --batch-sizes 1,256,4096 --num-batches 30 "${COMMON[@]}"
log timeout 150 python3 alexnet/alexnet_benchmark.py --sweep --precision fp16 --channels-last --executions compile,compile+cuda-graphs --batch-sizes 1,4096 --num-batches 30 "${COMMON[@]}"
} 2>&1 | grep -v -E "^(AUTOTUNE|strides|dtypes|  triton_|  convolution)" | tee "$OUT/modes_log.txt"
rm -f "$R"/*/*.trace.json
tar czf "$OUT/modes_results.tgz" -C "$OUT" results && rm -rf "$R"
