#!/bin/bash
# call 6, at the final product code: the GPU acceptance run (every README command with its defaults, then
# pytest -m cuda), the product's command at 4096 in bf16 and at batch 1 in fp16, and the profiler's
# per-layer table of the rewritten model at 4096 in bf16 (eager: conv2 is features.3, WgmmaConv2d).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### GPU acceptance"; date +%T
timeout 450 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
echo "### the target command, bf16 4096"; date +%T
timeout 45 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --num-batches 100 \
    --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|conv2 (\|rror"
echo "### the target command, fp16 batch 1"; date +%T
timeout 45 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --num-batches 2000 \
    --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|rror"
echo "### the profiler's layers, --rewrite bf16 4096"; date +%T
timeout 60 python3 alexnet/alexnet_profiler.py --rewrite --precision bf16 --channels-last --batch-sizes 4096 \
    --weights none --synthetic --output-dir /tmp/prof 2>&1 | grep -v "Warn\|warn" | head -45
date +%T
} > $OUT/call6_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call6_acceptance_log.txt 2>/dev/null
