#!/bin/bash
# conv1's columns kernel with one mask per row and K steps inside one input column (the working tree
# over f53ba76, 8 pixels per column) against the space-to-depth form (f53ba76 in probe/old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
echo "### conv1 alone"
timeout 150 python3 benchmarks/investigations/conv1_candidates.py --batch-size 4096 --precision bf16
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### targets batch 4096, $tree"
  (cd $dir && python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T --num-batches 100 \
      --weights none --quiet --output-dir $OUT/targets_$tree)
done
echo "### kernel table, new"
timeout 60 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
echo "### whole model variants, batch 4096"
timeout 100 python3 benchmarks/investigations/rewrite_variants.py --batch-size 4096 --only "space-to-depth|columns of [48]"
echo "### whole model, batch 256, columns from any size"
timeout 60 python3 benchmarks/investigations/rewrite_variants.py --batch-size 256 --min-column-rows 0 \
    --only "space-to-depth|columns of 8"
} > $OUT/call3_log.txt 2>&1
tar -czf $OUT/call3_runs.tgz -C $OUT targets_new targets_old && rm -rf $OUT/targets_new $OUT/targets_old
