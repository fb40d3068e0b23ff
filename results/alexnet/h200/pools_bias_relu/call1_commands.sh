#!/bin/bash
# call 1: the pools with their bias and ReLU in the Triton kernel, eager and compiled (ee11d6a), against
# ba4262f (probe/old, inductor's pools when compiled): the CUDA tests that touch pools and rewrites, the
# product's command at 4096 bf16 (new, old, new, old), batch 1 fp16, eager --rewrite at 4096 and 256,
# and the compiled forward's kernels at 4096.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### pytest -m cuda -k 'pool or rewrite or roofline'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "pool or rewrite or roofline" tests/test_cuda.py 2>&1 | tail -3
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 4096 --precision bf16 $T --compile default \
      --cuda-graphs --num-batches 100 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite check\|rror")
done
for tree in new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the product's command, fp16 batch 1"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 1 --precision fp16 $T --compile default \
      --cuda-graphs --num-batches 2000 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|rror")
  for batch in 4096 256; do
    echo "### $tree: eager --rewrite, bf16 $batch"; date +%T
    (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size $batch --precision bf16 $T \
        --num-batches 100 --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|rror")
  done
done
echo "### new: the compiled forward's kernels, bf16 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile default --cuda-graphs --iterations 100 2>&1 | grep -v "Warn\|warn"
date +%T
} > $OUT/call1_log.txt 2>&1
rm -rf $OUT/runs
