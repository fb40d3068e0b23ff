#!/bin/bash
# Where the energy goes at batch 4096 (layer_energy.py, bf16, the rewrite, eager layers and the
# compiled forward), then batch 1 in fp16 at HEAD and at a52ca80 (probe/old: the synthetic loop not
# sampled), alternating twice: did sampling the GPU over the loop move batch 1's p50?
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --synthetic"
{
echo "### layer energy, batch 4096, bf16"; date +%T
timeout 240 python3 benchmarks/investigations/layer_energy.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### batch 1, fp16, $tree, round $round"; date +%T
    (cd $dir && timeout 50 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --num-batches 2000 \
        --output-dir $OUT/runs/batch1_${tree}_$round | grep "Throughput\|p50\|GPU over")
  done
done
date +%T
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT runs && rm -rf $OUT/runs
