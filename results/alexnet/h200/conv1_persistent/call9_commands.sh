#!/bin/bash
# The pool, bias and ReLU in one Triton kernel (db8aaad) against 0f0005b (probe/old): the product's
# command at batch 4096, each tree once, and eager at 256; then the GPU acceptance run.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### targets batch 4096, $tree"; date +%T
  (cd $dir && timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/targets_${tree} | grep "Throughput\|p50")
  echo "### eager rewrite batch 256, $tree"; date +%T
  (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 \
      --channels-last --rewrite --num-batches 50 --weights none --output-dir $OUT/runs/eager_${tree} | grep "Throughput\|p50")
done
date +%T
} > $OUT/call9_log.txt 2>&1
tar -czf $OUT/call9_runs.tgz -C $OUT runs && rm -rf $OUT/runs
rm -rf probe
timeout 420 python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc=$?" >> $OUT/acceptance_stdout.txt
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
