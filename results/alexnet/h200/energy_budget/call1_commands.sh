#!/bin/bash
# At the final product code of the last stop (ae96e09): what the forward after conv1 costs in energy
# (layer_energy.py --tail), the kernel table at 4096, and the product's target command beside the plain
# loop, all bf16 channels_last at batch 4096.
OUT=$1
R=$OUT/runs
export PYTHONUNBUFFERED=1
TARGET="--channels-last --rewrite --compile default --cuda-graphs"
SUMMARY="Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|GPU over.*\|max abs.*\|images/s.*\|ms per.*"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### layer energy, with the forward after conv1's layer"; date +%T
timeout 240 python3 benchmarks/investigations/layer_energy.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --tail 2>&1 | grep -v WARNING
echo "### kernel table, 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --cuda-graphs 2>&1 | grep -v WARNING | tail -40
echo "### target, batch 4096 bf16"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $TARGET --num-batches 100 \
    --weights none --output-dir $R/targets 2>&1 | grep -a -o "$SUMMARY"
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $TARGET --iterations 100 2>&1 | tail -3
date +%T
} > $OUT/call1_log.txt 2>&1
cp -r $R $OUT/call1_runs
rm -rf $R
