#!/bin/bash
# call 4, on the final product code (1427dd2's): batch 1 in fp16 (the product's command and the plain
# loop), the roofline of --rewrite (fp16 channels_last, batches 1 and 4096, measured layer times) and its
# measured bytes at 1024 (bf16, Nsight Compute).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### the target command, batch 1 fp16"; date +%T
timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
    --num-batches 2000 --weights none --output-dir $OUT/runs/batch1 2>&1 | grep -a "Throughput\|p50\|rror"
timeout 60 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $T --iterations 2000 2>&1 | tail -1
echo "### roofline, --rewrite"; date +%T
timeout 90 python3 alexnet/alexnet_ai.py --dtype fp16 --channels-last --batch-sizes 1,4096 --measure --rewrite \
    --weights none --output-dir $OUT/runs/roofline 2>&1 | grep -v WARNING
echo "### measured bytes, --rewrite, 1024"; date +%T
timeout 150 python3 alexnet/alexnet_ai.py --dtype bf16 --channels-last --batch-sizes 1024 --counters --rewrite \
    --weights none --output-dir $OUT/runs/counters 2>&1 | grep -v WARNING
date +%T
} > $OUT/call4_log.txt 2>&1
tar -czf $OUT/call4_runs.tgz -C $OUT runs && rm -rf $OUT/runs
