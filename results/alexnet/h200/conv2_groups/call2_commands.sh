#!/bin/bash
# call 2: conv2_split.py again, its compiled forwards now without conv2 in groups (call 1: 3% faster
# alone, no less energy), each replayed once right after its capture (call 1 hit an illegal address
# in a replay after capturing all six); then the product's command as it stands, and batch 1.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### conv2_split.py, bf16 4096"; date +%T
timeout 420 python3 benchmarks/investigations/conv2_split.py --precision bf16 --channels-last --rewrite \
    --batch-size 4096 --seconds 1.0 --rounds 2 2>&1 | grep -v "WARNING\|warn"
echo "### the product's command, bf16 4096"; date +%T
timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --cuda-graphs --num-batches 100 --weights none --output-dir $OUT/runs 2>&1 \
    | grep -a "Throughput\|p50\|GPU over\|rror"
echo "### the product's command, fp16 batch 1"; date +%T
timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 --channels-last \
    --rewrite --compile default --cuda-graphs --num-batches 2000 --weights none --output-dir $OUT/runs 2>&1 \
    | grep -a "Throughput\|p50\|rror"
date +%T
} > $OUT/call2_log.txt 2>&1
rm -rf $OUT/runs
