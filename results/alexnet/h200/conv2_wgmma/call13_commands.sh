#!/bin/bash
# call 13, at the final product code (after call 12 the loader's start-up reports use CLOCK_MONOTONIC in
# place of time.time()): the README's end-to-end command (default decoding: the gpu path's workers) on
# 1000 varied JPEGs, which prints the start-up breakdown those reports make.
OUT=$1
export PYTHONUNBUFFERED=1
{
date +%T
python3 benchmarks/make_jpegs.py /tmp/data/imagenet/val --count 1000 --classes 100 --varied | tail -1
echo "### python alexnet/alexnet_benchmark.py --data-path /tmp/data/imagenet --num-batches 0 --weights none"; date +%T
timeout 120 python3 alexnet/alexnet_benchmark.py --data-path /tmp/data/imagenet --num-batches 0 --weights none \
    --output-dir /tmp/e2e 2>&1 | grep -v "Warn\|warn"
echo "exit status: ${PIPESTATUS[0]}"
date +%T
} > $OUT/call13_log.txt 2>&1
