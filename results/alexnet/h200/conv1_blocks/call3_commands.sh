#!/bin/bash
# cuDNN's search over every algorithm (benchmark_limit 0, the commit after afb43ec) against the first 10 (ca5fce0,
# probe/old): conv2-conv5 alone with each limit, the product's command at batch 4096 alternating; and
# conv_pairs' row max on rounded outputs (HEAD) against fp32 (ee52f70, probe/ee5).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $OUT/call3_clocks.csv &
SMI=$!
for limit in 10 0; do
  echo "### cudnn algorithms, limit $limit"; date +%T
  timeout 150 python3 benchmarks/investigations/cudnn_algorithms.py --limit $limit | grep "^conv"
done
for tree in new ee5; do
  dir=.; [ $tree = ee5 ] && dir=probe/ee5
  echo "### conv1 + pool stacks, batch 4096, $tree"; date +%T
  (cd $dir && timeout 100 python3 benchmarks/investigations/conv1_row_max.py --batch-size 4096 | grep -v "^ \|^{\|^}")
done
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### targets batch 4096, $tree, round $round"; date +%T
    (cd $dir && timeout 100 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
        --num-batches 100 --weights none --output-dir $OUT/runs/targets_${tree}_$round | grep -i "throughput\|p50\|warm-up took\|first")
  done
done
date +%T
kill $SMI
} > $OUT/call3_log.txt 2>&1
tar -czf $OUT/call3_runs.tgz -C $OUT runs && rm -rf $OUT/runs
