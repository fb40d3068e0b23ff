#!/bin/bash
# Acceptance on 10c400a; then conv_pairs (10c400a) against the block kernel + cuDNN pairs form
# (b3a2954, probe/old), alternating, with the clocks sampled.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout_10c400a.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log_10c400a.txt
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call4_clocks.csv &
SMI=$!
for tree in new old new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### plain loop 300, $tree"; date +%T
  (cd $dir && timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 300)
  echo "### targets batch 4096, $tree"; date +%T
  (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --quiet --output-dir $OUT/runs/targets_$tree)
done
date +%T
kill $SMI
} > $OUT/call4_log.txt 2>&1
tar -czf $OUT/call4_runs.tgz -C $OUT runs && rm -rf $OUT/runs
