#!/bin/bash
# call 4: conv2_wgmma in the product (67132f1: rewrites.WgmmaConv2d from 32 images) against 19e08cc
# (probe/old, cuDNN's conv2; its product code is ea164f7's): the CUDA tests of conv1, conv2 and the
# rewrite; the investigation (the check, the kernel against cuDNN from 1 image up, joules at 4096); the
# product's command at 4096 in bf16 (new, old, new, old); batch 1 in fp16; the compiled forward's kernels.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --weights none --synthetic --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### pytest -m cuda -k 'conv1 or conv2 or rewrite'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "conv1 or conv2 or rewrite" tests/test_cuda.py 2>&1 | tail -3
echo "### conv2_wgmma against cuDNN"; date +%T
timeout 150 python3 benchmarks/investigations/conv2_wgmma.py --batch-size 4096 2>&1 | grep -v WARNING | grep -v "n=[0-9]"
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite check\|conv2 (\|rror")
done
echo "### new: the product's command, fp16 batch 1"; date +%T
timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --num-batches 2000 \
    --output-dir $OUT/runs/new 2>&1 | grep -a "Throughput\|p50\|conv2 (\|rror"
echo "### new: the compiled forward's kernels, bf16 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --cuda-graphs --iterations 100 2>&1 | grep -v "Warn\|warn"
date +%T
} > $OUT/call4_log.txt 2>&1
rm -rf $OUT/runs
