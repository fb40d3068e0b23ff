#!/bin/bash
# conv1's pairs form as one Triton implicit GEMM over the image (the working tree over b3a2954)
# against the block kernel + cuDNN pairs form (b3a2954, probe/old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call3_clocks.csv &
SMI=$!
echo "### conv1 alone, new"
timeout 150 python3 benchmarks/investigations/conv1_candidates.py --batch-size 4096 --precision bf16
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### targets batch 4096, $tree"; date +%T
  (cd $dir && timeout 100 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --quiet --output-dir $OUT/runs/targets_$tree)
  echo "### plain loop, $tree"; date +%T
  (cd $dir && timeout 80 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100)
done
echo "### kernel table, new"; date +%T
timeout 80 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
date +%T
kill $SMI
} > $OUT/call3_log.txt 2>&1
tar -czf $OUT/call3_runs.tgz -C $OUT runs && rm -rf $OUT/runs
