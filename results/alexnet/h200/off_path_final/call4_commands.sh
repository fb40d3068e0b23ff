#!/bin/bash
# --amp --rewrite: the failing command of call 3 at 6dcc6b6 (its own checkout, probe/old: the whole
# traceback) and at 02acd06 (this tree), more autocast forms, the new CUDA test; then the full GPU
# acceptance run of this tree.
OUT=$1
export PYTHONUNBUFFERED=1
stamp(){ echo "### $* $(date +%T)"; }
AMP="--synthetic --precision bf16 --amp --channels-last --rewrite --weights none --output-dir /tmp/res"
SUMMARY="^Throughput|^Batch time|rewrite|Error|error"
{
stamp "6dcc6b6: --batch-size 33 --compile"
(cd probe/old && timeout 90 python3 alexnet/alexnet_benchmark.py $AMP --batch-size 33 --compile --num-batches 100 2>&1 | tail -25)
for flags in "--batch-size 33 --compile" "--batch-size 33" "--batch-size 1 --compile --cuda-graphs" \
             "--batch-size 256 --compile --cuda-graphs"; do
  stamp "02acd06: $flags"
  timeout 90 python3 alexnet/alexnet_benchmark.py $AMP $flags --num-batches 100 2>&1 | grep -a -E "$SUMMARY" | head -8
done
stamp "pytest -m cuda -k autocast"
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k autocast -p no:cacheprovider 2>&1 | tail -15
stamp acceptance
timeout 380 python3 benchmarks/gpu_acceptance.py /tmp/acc > /tmp/acc_stdout.txt 2>&1
tail -14 /tmp/acc_stdout.txt
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log.txt 2>/dev/null
stamp done
} > $OUT/call4_log.txt 2>&1
