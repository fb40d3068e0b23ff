#!/bin/bash
# After the review's refactor of conv_pairs' host code (row_max_width): the CUDA tests of conv1 and
# the rewrite, then the product's command at batch 4096 once.
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pytest -m cuda (conv1, conv_pairs, the rewrite)"; date +%T
timeout 120 python3 -m pytest -q -m cuda tests/test_cuda.py -k "conv1 or conv_pairs or batch_1_runs or graph_break or rewrite" 2>&1 | tail -3
echo "### targets batch 4096, bf16"; date +%T
timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite \
    --compile default --cuda-graphs --num-batches 100 --weights none --output-dir $OUT/runs/targets | grep "Throughput\|p50\|Strided"
date +%T
} > $OUT/call7_log.txt 2>&1
rm -rf $OUT/runs
