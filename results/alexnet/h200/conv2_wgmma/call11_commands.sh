#!/bin/bash
# call 11, on call 10's machine: the product's command at 4096 in bf16 and at batch 1 in fp16, 8460cad's
# product code (this tree) against 1f29ddf's (probe/old: before nvrtc.operands), alternating, each in its
# own process, to tell call 10's lower figures from the machine.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
{
for round in 1 2; do
  for tree in . probe/old; do
    echo "### $tree, bf16 4096, round $round"; date +%T
    (cd $tree && timeout 45 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T \
        --num-batches 100 --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|GPU over\|rror")
  done
done
for tree in . probe/old . probe/old; do
  echo "### $tree, fp16 batch 1"; date +%T
  (cd $tree && timeout 40 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T \
      --num-batches 2000 --output-dir /tmp/runs 2>&1 | grep -a "Throughput\|p50\|rror")
done
date +%T
} > $OUT/call11_log.txt 2>&1
