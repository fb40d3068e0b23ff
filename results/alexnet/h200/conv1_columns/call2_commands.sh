#!/bin/bash
# conv1's columns form as a Triton kernel (the working tree over f53ba76) against the space-to-depth form
# (f53ba76 in probe/old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
for tree in new old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### targets batch 4096, $tree"
  (cd $dir && python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T --num-batches 100 \
      --weights none --quiet --output-dir $OUT/targets_$tree)
done
echo "### plain loop, new"
python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100
echo "### targets batch 1, new"
python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T --num-batches 2000 \
    --weights none --quiet --output-dir $OUT/targets_new
echo "### conv1 alone"
timeout 150 python3 benchmarks/investigations/conv1_candidates.py --batch-size 4096 --precision bf16
echo "### kernel table, new"
timeout 60 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
for batch in 256 64; do
  echo "### whole model, batch $batch, columns from any size"
  timeout 60 python3 benchmarks/investigations/rewrite_variants.py --batch-size $batch --min-column-rows 0 \
      --only "space-to-depth|columns of 4"
done
echo "### whole model variants, batch 4096"
timeout 150 python3 benchmarks/investigations/rewrite_variants.py --batch-size 4096 --only "space-to-depth|columns of"
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT targets_new targets_old && rm -rf $OUT/targets_new $OUT/targets_old
