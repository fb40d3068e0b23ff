#!/bin/bash
# call 10, at the final product code (8460cad: after calls 8-9, both wgmma ops check and lay out their
# operands in nvrtc.operands, and max_pool_nhwc takes its tile as a parameter): the GPU acceptance run
# (every README command with its defaults, then pytest -m cuda), the product's command at 4096 in bf16
# and at batch 1 in fp16, and pool_tiles.py (which now times the product's pool with each tile).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### GPU acceptance"; date +%T
timeout 440 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
echo "### the target command, bf16 4096"; date +%T
timeout 45 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --num-batches 100 \
    --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|conv2 (\|rror"
echo "### the target command, fp16 batch 1"; date +%T
timeout 40 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --num-batches 2000 \
    --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|rror"
echo "### pool_tiles.py"; date +%T
timeout 60 python3 benchmarks/investigations/pool_tiles.py --precision bf16 --batch-sizes 1 4096 2>&1 | tail -8
date +%T
} > $OUT/call10_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call10_acceptance_log.txt 2>/dev/null
