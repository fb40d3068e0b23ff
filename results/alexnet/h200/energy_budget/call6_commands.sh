#!/bin/bash
# At the final HEAD (the pool record of each layer): the rewrite's CUDA tests, and eager --rewrite at
# 4096 and 256 (bf16 channels_last), plus the fp16 NCHW record.
OUT=$1
R=$OUT/runs
export PYTHONUNBUFFERED=1
EAGER="--synthetic --precision bf16 --channels-last --rewrite --weights none --num-batches 100 --output-dir $R"
SUMMARY="Throughput (model only): [0-9,.]* images/second\|Batch time p50.*\|Rewrite check.*"
{
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### pytest -m cuda, the rewrite's tests"; date +%T
timeout 150 python3 -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py -k "max_pool or rewrite" 2>&1 | tail -3
for batch in 4096 256; do
  echo "### eager, batch $batch"; date +%T
  timeout 60 python3 alexnet/alexnet_benchmark.py $EAGER --batch-size $batch 2>&1 | grep -a -o "$SUMMARY"
done
echo "### eager, fp16 NCHW, batch 256"; date +%T
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --precision fp16 --rewrite --weights none --num-batches 100 \
    --output-dir $R --batch-size 256 2>&1 | grep -a -o "$SUMMARY"
date +%T
} > $OUT/call6_log.txt 2>&1
rm -rf $R
