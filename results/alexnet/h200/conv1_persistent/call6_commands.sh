#!/bin/bash
# conv_pairs through the L1 with TMA weights and 3 programs per multiprocessor (327b63b) against
# e2ffd22 (probe/old, the kernel of 9888570): the changed CUDA tests, conv1 alone, the product's
# command at batch 4096 alternating, the plain loop, and batch 64.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call6_clocks.csv &
SMI=$!
echo "### pytest -m cuda (changed parts)"; date +%T
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k "pairs or conv1 or one_graph" 2>&1 | tail -4
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### conv1 alone (kernels.conv_pairs as shipped), $tree"; date +%T
  (cd $dir && timeout 60 python3 benchmarks/investigations/conv_pairs_l1.py --batch-size 4096 --only '^shipped' | grep "^shipped")
done
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### targets batch 4096, $tree, round $round"; date +%T
    (cd $dir && timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
        --num-batches 100 --weights none --output-dir $OUT/runs/targets_${tree}_$round | grep -i "throughput\|latency\|p50\|images/s")
  done
done
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### plain loop, $tree"; date +%T
  (cd $dir && timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 300)
  echo "### batch 64, $tree"; date +%T
  (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 64 --precision bf16 $T \
      --num-batches 200 --weights none --output-dir $OUT/runs/b64_${tree} | grep -i "throughput\|latency\|p50\|images/s")
done
date +%T
kill $SMI
} > $OUT/call6_log.txt 2>&1
tar -czf $OUT/call6_runs.tgz -C $OUT runs && rm -rf $OUT/runs
