#!/bin/bash
# conv1's pairs form: a Triton block kernel (space-to-depth over 4 padded channels) and cuDNN's
# stride-(1, 2) convolution with 128 outputs (the working tree over f53ba76), against the
# space-to-depth form (f53ba76 in probe/old).
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
timeout 60 python3 benchmarks/investigations/conv1_candidates.py --batch-size 4096 --precision bf16
echo "### kernel table, new"
timeout 50 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
echo "### whole model, batch 4096"
timeout 80 python3 benchmarks/investigations/rewrite_variants.py --batch-size 4096 --only "^rewrite$|space-to-depth"
for batch in 256 32; do
  echo "### whole model, batch $batch, pairs from any size"
  timeout 40 python3 benchmarks/investigations/rewrite_variants.py --batch-size $batch --min-pair-rows 0 \
      --only "^rewrite$|space-to-depth"
done
} > $OUT/call4_log.txt 2>&1
tar -czf $OUT/call4_runs.tgz -C $OUT targets_new targets_old && rm -rf $OUT/targets_new $OUT/targets_old
