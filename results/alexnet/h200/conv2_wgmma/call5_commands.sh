#!/bin/bash
# call 5: where conv2_wgmma starts to pay, by GPU time (do_bench_cudagraph) from 1 image up, and the CUDA
# tests of conv2, the rewrite check (its images repeated up to conv2_wgmma.MIN_IMAGES) and the counters.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### conv2_wgmma against cuDNN by batch"; date +%T
timeout 150 python3 benchmarks/investigations/conv2_wgmma.py --batches-only 2>&1 | grep -v WARNING | grep -v "n=[0-9]"
echo "### pytest -m cuda -k 'conv2 or rewrite_at_batch_1 or counters'"; date +%T
timeout 300 python3 -m pytest -q -m cuda -k "conv2 or rewrite_at_batch_1 or counters" tests/test_cuda.py 2>&1 | tail -3
date +%T
} > $OUT/call5_log.txt 2>&1
