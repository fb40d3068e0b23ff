#!/bin/bash
# call 5, at the final commit (cf4facb: the kernel source without its unused max_piece, the same cubin):
# the product's command at 4096 in bf16, then the GPU acceptance run.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### the target command, bf16 4096"; date +%T
timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite \
    --compile default --cuda-graphs --num-batches 100 --weights none --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror"
echo "### GPU acceptance"; date +%T
timeout 480 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
date +%T
} > $OUT/call5_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call5_acceptance_log.txt 2>/dev/null
