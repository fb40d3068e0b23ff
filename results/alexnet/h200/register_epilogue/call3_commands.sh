#!/bin/bash
# call 3, on the final product code (1427dd2's: conv1_wgmma with the register epilogue): the product's
# command at 4096 in bf16 in this tree and in f76806c's (probe/old), new, old, new; the plain loop; then
# the GPU acceptance run (every README command with its defaults, then pytest -m cuda).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
for tree in new old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir /tmp/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror")
done
echo "### plain loop, bf16 4096"; date +%T
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100
echo "### GPU acceptance"; date +%T
timeout 450 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
date +%T
} > $OUT/call3_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call3_acceptance_log.txt 2>/dev/null
