#!/bin/bash
# conv_pairs' own energy at batch 4096 (layer_energy.py's "its conv alone" row, pairs form, bf16), then
# the product's command at 4096 in bf16 over 100 and over 400 batches (a pass of about 1 s and 4.5 s).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
{
echo "### layer energy, batch 4096, bf16, pairs"; date +%T
timeout 150 python3 benchmarks/investigations/layer_energy.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --seconds 1.0
for batches in 100 400; do
  echo "### targets batch 4096, bf16, $batches batches"; date +%T
  timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --num-batches $batches \
      --output-dir $OUT/runs/targets_$batches | grep "Throughput\|p50\|GPU over"
done
date +%T
} > $OUT/call4_log.txt 2>&1
tar -czf $OUT/call4_runs.tgz -C $OUT runs && rm -rf $OUT/runs
