#!/bin/bash
# call 2: batch 1. The pool kernel's tiles against inductor's fused pool at batch 1 and 4096
# (benchmarks/investigations/pool_tiles.py); the product's command at batch 1 fp16, new (ee11d6a's
# product code) and old (ba4262f, probe/old) alternating; each tree's compiled batch-1 kernels.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### pool_tiles.py, fp16"; date +%T
timeout 200 python3 benchmarks/investigations/pool_tiles.py --precision fp16 2>&1 | grep -v "Warn\|warn"
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, fp16 batch 1"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --compile default \
      --cuda-graphs --num-batches 2000 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|rror")
done
for tree in new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the compiled forward's kernels, fp16 batch 1"; date +%T
  (cd $dir && timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 1 --precision fp16 \
      --channels-last --rewrite --compile default --cuda-graphs --iterations 500 2>&1 | grep -v "Warn\|warn")
done
date +%T
} > $OUT/call2_log.txt 2>&1
rm -rf $OUT/runs
