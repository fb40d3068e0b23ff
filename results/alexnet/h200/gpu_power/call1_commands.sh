#!/bin/bash
# The GPU acceptance run at HEAD (49dcc3c: the benchmark samples the GPU's energy, power and clock),
# then the product's command at 4096 in bf16 with nvidia-smi sampling beside it, and batch 1 in fp16
# at HEAD and at a52ca80 (probe/old: the synthetic loop not sampled), alternating.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
timeout 420 python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc=$?" >> $OUT/acceptance_stdout.txt
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call1_clocks.csv &
SMI=$!
echo "### targets batch 4096, bf16"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --num-batches 100 \
    --output-dir $OUT/runs/targets | grep "Throughput\|p50\|GPU over"
date +%T
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### batch 1, fp16, $tree"; date +%T
  (cd $dir && timeout 50 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --num-batches 2000 \
      --output-dir $OUT/runs/batch1_$tree | grep "Throughput\|p50\|GPU over")
done
kill $SMI
} > $OUT/call1_log.txt 2>&1
tar -czf $OUT/call1_runs.tgz -C $OUT runs && rm -rf $OUT/runs
