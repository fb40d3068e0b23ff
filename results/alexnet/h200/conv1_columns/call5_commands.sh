#!/bin/bash
# Acceptance of the pairs form (the working tree over f53ba76, pairs from two images up), then the targets.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs --weights none --quiet"
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1; echo "acceptance exit $?" > $OUT/call5_log.txt
cp /tmp/acc/acceptance_log.txt $OUT/
{
echo "### targets batch 4096"
timeout 60 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T --num-batches 100 \
    --output-dir $OUT/targets
echo "### targets batch 1"
timeout 40 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 1 --precision fp16 $T --num-batches 2000 \
    --output-dir $OUT/targets
} >> $OUT/call5_log.txt 2>&1
tar -czf $OUT/call5_runs.tgz -C $OUT targets && rm -rf $OUT/targets
