#!/bin/bash
# call 4, at the final product code (3e66dac's GPU code; 65d4702 rewraps a docstring): the GPU acceptance
# run (every README command with its defaults, then pytest -m cuda), then the product's command at 4096
# in bf16 once more, and the compiled forward's kernels at 4096.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### GPU acceptance"; date +%T
timeout 450 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
echo "### the target command, bf16 4096"; date +%T
timeout 45 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
    --num-batches 100 --weights none --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror"
echo "### the compiled forward's kernels, bf16 4096"; date +%T
timeout 50 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --cuda-graphs --iterations 100 2>&1 | grep -v "Warn\|warn"
date +%T
} > $OUT/call4_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call4_acceptance_log.txt 2>/dev/null
