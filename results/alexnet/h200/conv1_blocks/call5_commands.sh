#!/bin/bash
# conv1 running its pool's row part (HEAD; its GPU code is ca5fce0's) against f73f4ac (probe/old):
# eager --rewrite at 256, the compiled forward's kernel table at 4096, each tree; the measured bytes
# of the rewrite at 1024; the product's command at 4096 in bf16 and fp16, and at batch 1 in fp16.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $OUT/call5_clocks.csv &
SMI=$!
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### eager rewrite batch 256, $tree"; date +%T
  (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 \
      --channels-last --rewrite --num-batches 50 --weights none --output-dir $OUT/runs/eager_${tree} | grep "Throughput\|p50")
  echo "### kernel table, batch 4096, $tree"; date +%T
  (cd $dir && timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T | head -14)
done
for precision in bf16 fp16 bf16; do
  echo "### targets batch 4096, $precision"; date +%T
  timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision $precision $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/targets_$precision | grep "Throughput\|p50"
done
echo "### batch 1, fp16"; date +%T
timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
    --num-batches 2000 --weights none --output-dir $OUT/runs/batch1 | grep "Throughput\|p50"
timeout 60 python3 benchmarks/plain_loop.py --batch-size 1 --precision fp16 $T --iterations 2000
echo "### counters, rewrite, batch 1024"; date +%T
timeout 200 python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1024 --channels-last --rewrite --counters \
    --cache warm --weights none --synthetic --output-dir $OUT/runs/counters | sed -n '/^layer/,/^Checks/p'
date +%T
kill $SMI
} > $OUT/call5_log.txt 2>&1
tar -czf $OUT/call5_runs.tgz --exclude='*.ncu-rep' -C $OUT runs && rm -rf $OUT/runs
