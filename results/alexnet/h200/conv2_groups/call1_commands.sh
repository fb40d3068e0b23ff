#!/bin/bash
# call 1: three candidate steps for the compiled forward at 4096 (conv2 in output-channel groups,
# pool2/pool5 with bias and ReLU as one Triton kernel, the FC ReLU in cuBLASLt's epilogue), alone
# and together, by time and energy (benchmarks/investigations/conv2_split.py); then the product's
# command as it stands, for this machine's level.
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
date +%T
} > $OUT/call1_log.txt 2>&1
rm -rf $OUT/runs
