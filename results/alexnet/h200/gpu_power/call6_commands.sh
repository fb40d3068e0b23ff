#!/bin/bash
# At the final product code (3ecdd87: the sweep's table with the GPU's power): the CUDA tests of the
# sampler, the README's sweep command, and the product's command at 4096 in bf16.
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pytest"; date +%T
timeout 100 python3 -m pytest -q -m cuda tests/test_cuda.py -k "energy or sampler" 2>&1 | tail -2
echo "### README sweep"; date +%T
timeout 150 python3 alexnet/alexnet_benchmark.py --sweep --precision fp32,bf16 --executions eager,cuda-graphs \
    --batch-sizes 1,32,256 --weights none --output-dir $OUT/runs/sweep 2>&1 | grep -a -v "it/s\|forward/s\|batch/s"
echo "### targets batch 4096, bf16"; date +%T
timeout 70 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite \
    --compile default --cuda-graphs --num-batches 100 --weights none --output-dir $OUT/runs/targets \
    | grep -a -o "Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|GPU over.*"
date +%T
} > $OUT/call6_log.txt 2>&1
tar -czf $OUT/call6_runs.tgz -C $OUT runs && rm -rf $OUT/runs
