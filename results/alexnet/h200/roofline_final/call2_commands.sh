#!/bin/bash
# At a43d324 (4ae148e's GPU code): the product's target commands beside plain loops, then the roofline
# of the reference model and of --rewrite (fp16 channels_last, batches 1 and 4096, measured layer
# times), measured bytes of --rewrite at 1024 (bf16, Nsight Compute) and the profiler's per-layer
# table of --rewrite at 4096 (bf16).
OUT=$1
R=$OUT/runs
export PYTHONUNBUFFERED=1
TARGET="--channels-last --rewrite --compile default --cuda-graphs"
SUMMARY="Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|GPU over.*\|max abs.*\|images/s.*\|ms per.*"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### target, batch 4096 bf16"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $TARGET --num-batches 100 \
    --weights none --output-dir $R/targets 2>&1 | grep -a -o "$SUMMARY"
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $TARGET --iterations 100 2>&1 | tail -3
echo "### target, batch 1 fp16"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $TARGET --num-batches 2000 \
    --weights none --output-dir $R/targets 2>&1 | grep -a -o "$SUMMARY"
timeout 60 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $TARGET --iterations 2000 2>&1 | tail -3
echo "### roofline, reference model"; date +%T
timeout 80 python3 alexnet/alexnet_ai.py --dtype fp16 --channels-last --batch-sizes 1,4096 --measure --weights none \
    --output-dir $R/roofline 2>&1 | grep -v WARNING
echo "### roofline, --rewrite"; date +%T
timeout 80 python3 alexnet/alexnet_ai.py --dtype fp16 --channels-last --batch-sizes 1,4096 --measure --rewrite \
    --weights none --output-dir $R/roofline 2>&1 | grep -v WARNING
echo "### profiler, --rewrite, 4096"; date +%T
timeout 60 python3 alexnet/alexnet_profiler.py --precision bf16 --channels-last --batch-sizes 4096 --rewrite --weights none \
    --output-dir $R/profiler 2>&1 | grep -v WARNING
echo "### measured bytes, --rewrite, 1024"; date +%T
timeout 110 python3 alexnet/alexnet_ai.py --dtype bf16 --channels-last --batch-sizes 1024 --counters --rewrite \
    --weights none --output-dir $R/counters 2>&1 | grep -v WARNING
date +%T
} > $OUT/call2_log.txt 2>&1
cp -r $R $OUT/call2_runs
rm -rf $R
