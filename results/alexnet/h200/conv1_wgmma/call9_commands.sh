#!/bin/bash
# 08af84d (conv1_wgmma in the product): the new CUDA tests, then the product's target command at 4096 in
# bf16 in this tree and in 70eea11's (probe/old), the plain loop, eager --rewrite at 4096, batch 1 in fp16.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### pytest -m cuda -k 'conv1 or rewrite or max_pool'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "conv1 or rewrite or max_pool" tests/test_cuda.py 2>&1 | tail -15
for tree in new old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror")
done
echo "### plain loop, bf16 4096"; date +%T
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100
echo "### eager --rewrite, bf16 4096"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite \
    --num-batches 100 --weights none --output-dir $OUT/runs/eager 2>&1 | grep -a "Throughput\|p50\|Rewrite\|rror"
echo "### batch 1, fp16"; date +%T
timeout 75 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T \
    --num-batches 2000 --weights none --output-dir $OUT/runs/batch1 2>&1 | grep -a "Throughput\|p50\|rror"
date +%T
} > $OUT/call9_log.txt 2>&1
grep -h '"strided_conv_forms"' -A 3 $OUT/runs/new/*.json > $OUT/call9_forms.txt 2>/dev/null
tar -czf $OUT/call9_runs.tgz -C $OUT runs && rm -rf $OUT/runs
