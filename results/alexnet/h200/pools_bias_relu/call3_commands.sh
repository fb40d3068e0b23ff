#!/bin/bash
# call 3: the final product code (3e66dac: pools with bias and ReLU in the Triton kernel, a compiled
# single image on inductor's pools) against ba4262f (probe/old): the product's command at 4096 bf16
# and at batch 1 fp16, alternating, and the roofline's README command on the rewrite at 4096.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --compile default \
      --cuda-graphs --num-batches 100 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite check\|rror")
done
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, fp16 batch 1"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --compile default \
      --cuda-graphs --num-batches 2000 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|rror")
done
date +%T
} > $OUT/call3_log.txt 2>&1
rm -rf $OUT/runs
