#!/usr/bin/env bash
# First look on the device machine: every script once, the anchor beside the benchmark.
# Usage (device tool): bash benchmarks/h200_check.sh   (writes logs and results under $OUT)
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; R=$OUT/results; mkdir -p "$R"
log() { echo; echo "### $*"; "$@"; echo "### rc=$?"; }
{
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.backends.cudnn.version())"
log python3 alexnet/alexnet_benchmark.py --synthetic --quiet --output-dir "$R"
log python3 benchmarks/plain_loop.py --batch-size 32
log python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --quiet --weights none --output-dir "$R"
log python3 benchmarks/plain_loop.py --batch-size 256
log python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --channels-last --quiet --weights none --output-dir "$R"
log python3 benchmarks/plain_loop.py --batch-size 256 --precision bf16 --channels-last
log python3 alexnet/alexnet_profiler.py --precision bf16 --batch-sizes 32,256 --weights none --output-dir "$R"
log python3 alexnet/alexnet_profiler.py --precision fp16 --channels-last --batch-sizes 4096 --weights none --steps 3 --output-dir "$R/cl"
log python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1,256 --measure --weights none --output-dir "$R"
log python3 alexnet/alexnet_benchmark.py --sweep --precision fp16,bf16 --channels-last --executions eager,cuda-graphs --batch-sizes 1,256,4096 --rewrite --num-batches 30 --quiet --weights none --output-dir "$R"
log python3 alexnet/alexnet_benchmark.py --sweep --precision fp16 --channels-last --executions eager,cuda-graphs --batch-sizes 1,4096 --num-batches 30 --quiet --weights none --output-dir "$R"
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
  log python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --num-batches 200 --quiet --weights none --output-dir "$R/ddp"
  log torchrun --standalone --nproc_per_node 2 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --num-batches 200 --quiet --weights none --output-dir "$R/ddp"
fi
} 2>&1 | tee "$OUT/log.txt"
rm -f "$R"/cl/*.trace.json
tar czf "$OUT/results.tgz" -C "$OUT" results && rm -rf "$R"
