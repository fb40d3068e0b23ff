#!/bin/bash
# Batch 1 fp16, HEAD (conv1 runs its pool; GPU code of ca5fce0) against f73f4ac (probe/old),
# alternating: the product's command, then the plain loop, then the product's command again.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
for round in 1 2 3; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### batch 1 fp16, $tree, round $round"; date +%T
    if [ $round = 2 ]; then
      (cd $dir && timeout 60 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $T --iterations 2000)
    else
      (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
          --num-batches 2000 --weights none --output-dir $OUT/runs/b1_${tree}_$round | grep "p50\|Strided")
    fi
  done
done
date +%T
} > $OUT/call6_log.txt 2>&1
tar -czf $OUT/call6_runs.tgz -C $OUT runs && rm -rf $OUT/runs
