#!/bin/bash
# The Triton max-pool in eager forwards (fed079a) against a063aff (probe/old: its own checkout), bf16
# channels_last --rewrite, alternating trees: eager at 4096 and 256, the product's target command
# (compiled and graphed) at 4096, then the profiler's per-layer table of --rewrite at 4096 (new tree)
# and the CUDA tests of the rewrite.
OUT=$1
R=$OUT/runs
export PYTHONUNBUFFERED=1
EAGER="--synthetic --precision bf16 --channels-last --rewrite --weights none"
SUMMARY="Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|GPU over.*\|Rewrite check.*"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
for round in 1 2; do
  for tree in new old; do
    dir=.; [ $tree = old ] && dir=probe/old
    for batch in 4096 256; do
      echo "### round $round, $tree, eager, batch $batch"; date +%T
      (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py $EAGER --batch-size $batch --num-batches 100 \
          --output-dir $R/$tree 2>&1 | grep -a -o "$SUMMARY")
    done
  done
done
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree, target: compiled and graphed, batch 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py $EAGER --batch-size 4096 --compile default --cuda-graphs \
      --num-batches 100 --output-dir $R/$tree 2>&1 | grep -a -o "$SUMMARY")
done
echo "### profiler, --rewrite, 4096, new tree"; date +%T
timeout 60 python3 alexnet/alexnet_profiler.py --precision bf16 --channels-last --batch-sizes 4096 --rewrite --weights none \
    --output-dir $R/profiler 2>&1 | grep -v WARNING | sed -n '/PER-LAYER BREAKDOWN/,/KERNELS PER LAYER/p'
echo "### pytest -m cuda, the rewrite's tests"; date +%T
timeout 150 python3 -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py -k "max_pool or rewrite" 2>&1 | tail -4
date +%T
} > $OUT/call4_log.txt 2>&1
tar czf $OUT/call4_runs.tgz -C $OUT runs
rm -rf $R
