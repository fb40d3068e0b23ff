#!/bin/bash
# call 5, at the final product code (3206b16's kernel, the review mend of rewrites.py): the GPU acceptance
# run (every README command with its defaults, then pytest -m cuda), then the product's command at 4096
# in bf16, this tree and a4f8e54 (probe/old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### GPU acceptance"; date +%T
timeout 450 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
for tree in new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 45 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir /tmp/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror")
done
date +%T
} > $OUT/call5_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call5_acceptance_log.txt 2>/dev/null
