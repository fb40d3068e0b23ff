#!/bin/bash
# conv1 in the columns form (the working tree over f53ba76) against the space-to-depth form (f53ba76, probe/old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
echo "### conv1 alone"
timeout 120 python3 benchmarks/investigations/conv1_candidates.py --batch-size 4096 --precision bf16
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### targets batch 4096, $tree, round $round"
    (cd $dir && python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T --num-batches 100 \
        --weights none --quiet --output-dir $OUT/targets_$tree)
    if [ $round = 1 ]; then
      (cd $dir && python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100)
      echo "### targets batch 1, $tree"
      (cd $dir && python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T --num-batches 2000 \
          --weights none --quiet --output-dir $OUT/targets_$tree)
    fi
  done
done
echo "### kernel table, new"
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
echo "### whole model variants"
timeout 200 python3 benchmarks/investigations/rewrite_variants.py --batch-size 4096 --only "space-to-depth|columns"
} > $OUT/call1_log.txt 2>&1
tar -czf $OUT/call1_runs.tgz -C $OUT targets_new targets_old && rm -rf $OUT/targets_new $OUT/targets_old
