#!/bin/bash
# conv_pairs writing the channels_last image itself with fixed tiles (9888570) against fc6e65a
# (probe/old): the changed CUDA tests, eager and compiled small batches, and batch 4096 alternating.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call2_clocks.csv &
SMI=$!
echo "### pytest -m cuda (changed parts)"; date +%T
timeout 200 python3 -m pytest -q -m cuda tests/test_cuda.py -k "pairs or counters or one_graph" 2>&1 | tail -5
for b in 8 256; do
  echo "### pairs against space-to-depth, batch $b"; date +%T
  timeout 60 python3 benchmarks/investigations/rewrite_variants.py --batch-size $b --only '^rewrite$|space-to-depth$'
done
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### targets batch 4096, $tree, round $round"; date +%T
    (cd $dir && timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
        --num-batches 100 --weights none --quiet --output-dir $OUT/runs/targets_${tree}_$round)
    echo "### plain loop, $tree, round $round"; date +%T
    (cd $dir && timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 300)
  done
done
echo "### kernel table, new"; date +%T
timeout 60 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
date +%T
kill $SMI
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT runs && rm -rf $OUT/runs
