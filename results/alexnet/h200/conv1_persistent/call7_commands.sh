#!/bin/bash
# After 327b63b: the new CUDA tests, the measured-bytes roofline of the rewrite at batch 1024 and the
# compiled forward's kernel table at batch 4096.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
echo "### pytest -m cuda (conv1 and conv_pairs)"; date +%T
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k "conv1 or conv_pairs or tensor_descriptors" 2>&1 | tail -3
echo "### counters, rewrite, batch 1024"; date +%T
timeout 200 python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1024 --channels-last --rewrite --counters \
    --cache warm --weights none --synthetic --output-dir $OUT/runs/counters
echo "### kernel table, batch 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
date +%T
} > $OUT/call7_log.txt 2>&1
tar -czf $OUT/call7_runs.tgz --exclude='*.ncu-rep' -C $OUT runs && rm -rf $OUT/runs
