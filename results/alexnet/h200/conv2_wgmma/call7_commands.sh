#!/bin/bash
# call 7, at the final product code (after call 6: the kernels' shared helpers moved into wgmma.cuh on
# NVRTC's include path, byte-identical cubins here; help and docs): the CUDA tests of conv1_wgmma, conv2
# and the rewrite at batch 1, and the product's command at 4096 in bf16.
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pytest -m cuda -k 'conv1_wgmma or conv2 or rewrite_at_batch_1'"; date +%T
timeout 150 python3 -m pytest -q -m cuda -k "conv1_wgmma or conv2 or rewrite_at_batch_1" tests/test_cuda.py 2>&1 | tail -2
echo "### the target command, bf16 4096"; date +%T
timeout 50 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 --channels-last --rewrite \
    --compile default --cuda-graphs --weights none --synthetic --num-batches 100 --output-dir /tmp/runs 2>&1 \
    | grep -a "Throughput\|p50\|GPU over\|conv2 (\|rror"
date +%T
} > $OUT/call7_log.txt 2>&1
