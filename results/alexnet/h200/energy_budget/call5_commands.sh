#!/bin/bash
# At the final HEAD: the eager max-pool through its custom op (11712ca) against a063aff (probe/old), eager
# bf16 channels_last --rewrite at 4096 and 256; the profiler's per-layer table of --rewrite at 4096 (are
# the pools attributed?); then the GPU acceptance run (every README command, the defaults, pytest -m cuda).
OUT=$1
R=$OUT/runs
export PYTHONUNBUFFERED=1
EAGER="--synthetic --precision bf16 --channels-last --rewrite --weights none"
SUMMARY="Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|GPU over.*\|Rewrite check.*"
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  for batch in 4096 256; do
    echo "### $tree, eager, batch $batch"; date +%T
    (cd $dir && timeout 60 python3 alexnet/alexnet_benchmark.py $EAGER --batch-size $batch --num-batches 100 \
        --output-dir $R/$tree 2>&1 | grep -a -o "$SUMMARY")
  done
done
echo "### profiler, --rewrite, 4096, new tree"; date +%T
timeout 60 python3 alexnet/alexnet_profiler.py --precision bf16 --channels-last --batch-sizes 4096 --rewrite --weights none \
    --output-dir $R/profiler 2>&1 | grep -v WARNING | grep -a -A30 "PER-LAYER BREAKDOWN"
echo "### acceptance"; date +%T
timeout 420 python3 benchmarks/gpu_acceptance.py /tmp/acc
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
date +%T
} > $OUT/call5_log.txt 2>&1
tar czf $OUT/call5_runs.tgz -C $OUT runs
rm -rf $R
