#!/bin/bash
# Batches 2, 16 and 64 with conv1 running pool1's row part (HEAD) against f73f4ac (probe/old, before
# it), fp16, the product's fastest command, alternating per batch size.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic --precision fp16"
{
for batch in 2 16 64; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### batch $batch, fp16, $tree"; date +%T
    (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size $batch $T --num-batches 1000 \
        --output-dir $OUT/runs/b${batch}_$tree | grep -a -o "Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|Strided convolutions.*")
  done
done
date +%T
} > $OUT/call5_log.txt 2>&1
tar -czf $OUT/call5_runs.tgz -C $OUT runs && rm -rf $OUT/runs
