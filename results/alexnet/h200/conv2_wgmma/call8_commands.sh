#!/bin/bash
# call 8, at the final product code (d66f340: nvrtc's launch-argument helper since call 7): #17's two
# targets, each beside benchmarks/plain_loop.py in the same call (bf16 at 4096, fp16 at batch 1), the
# roofline of --rewrite (fp16 channels_last, batches 1 and 4096, measured layer times; the same command
# as register_epilogue's call 4, for the before/after table) and the profiler's layers at 4096 in bf16.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
git log --oneline -1 2>/dev/null
echo "### the target command, bf16 4096"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
    --num-batches 100 --weights none --output-dir $OUT/runs/bf16_4096 2>&1 \
    | grep -a "Throughput\|p50\|GPU over\|Rewrite\|conv2 (\|rror"
echo "### plain_loop.py, bf16 4096"; date +%T
timeout 75 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100 2>&1 | tail -3
echo "### the target command, fp16 batch 1"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
    --num-batches 2000 --weights none --output-dir $OUT/runs/fp16_1 2>&1 | grep -a "Throughput\|p50\|rror"
echo "### plain_loop.py, fp16 batch 1"; date +%T
timeout 60 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $T --iterations 2000 2>&1 | tail -3
echo "### roofline, --rewrite"; date +%T
timeout 120 python3 alexnet/alexnet_ai.py --dtype fp16 --channels-last --batch-sizes 1,4096 --measure --rewrite \
    --weights none --output-dir $OUT/runs/roofline 2>&1 | grep -v WARNING
echo "### the profiler's layers, --rewrite bf16 4096"; date +%T
timeout 75 python3 alexnet/alexnet_profiler.py --rewrite --precision bf16 --channels-last --batch-sizes 4096 \
    --weights none --synthetic --output-dir $OUT/runs/profiler 2>&1 | grep -v "Warn\|warn" | head -45
date +%T
} > $OUT/call8_log.txt 2>&1
tar -czf $OUT/call8_runs.tgz -C $OUT runs && rm -rf $OUT/runs
