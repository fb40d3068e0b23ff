#!/bin/bash
# call 12, at the final product code (8460cad's): batch 1 in fp16, the product's command and
# benchmarks/plain_loop.py alternating, three rounds, on another machine: how far the batch-1 p50 spreads
# (call 11 gave 0.077 and 0.082 ms for this code, 0.079 twice for 1f29ddf's, on one machine).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
for round in 1 2 3; do
  echo "### round $round"; date +%T
  timeout 40 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
      --num-batches 2000 --weights none --output-dir /tmp/runs 2>&1 | grep -a "p50\|rror"
  timeout 40 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $T --iterations 2000 2>&1 | tail -1
done
date +%T
} > $OUT/call12_log.txt 2>&1
