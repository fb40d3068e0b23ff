#!/bin/bash
# conv1 running its pool's row part in conv_pairs (ee52f70) against f73f4ac (probe/old): the changed
# CUDA tests, the two conv1 + pool stacks compiled, the product's command at batch 4096 alternating,
# and the compiled forward's kernel table at 4096.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $OUT/call2_clocks.csv &
SMI=$!
echo "### pytest -m cuda (conv1, conv_pairs, the batch-1 forms)"; date +%T
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k "conv1 or conv_pairs or batch_1_runs or graph_break" 2>&1 | tail -4
echo "### conv1 + pool stacks, batch 4096"; date +%T
timeout 120 python3 benchmarks/investigations/conv1_row_max.py --batch-size 4096
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    echo "### targets batch 4096, $tree, round $round"; date +%T
    (cd $dir && timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
        --num-batches 100 --weights none --output-dir $OUT/runs/targets_${tree}_$round | grep -i "throughput\|p50\|conv")
  done
done
echo "### kernel table, batch 4096, new"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T | head -30
date +%T
kill $SMI
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT runs && rm -rf $OUT/runs
