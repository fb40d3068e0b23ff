#!/bin/bash
# call 9, at the final product code (d66f340's, as call 8): the GPU acceptance run (every README command
# with its defaults, then pytest -m cuda).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### GPU acceptance"; date +%T
timeout 500 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
date +%T
} > $OUT/call9_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call9_acceptance_log.txt 2>/dev/null
