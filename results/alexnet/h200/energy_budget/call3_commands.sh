#!/bin/bash
# At the final HEAD of this stop: every README command and each script's defaults on the GPU, then
# pytest -m cuda (benchmarks/gpu_acceptance.py).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### acceptance"; date +%T
timeout 560 python3 benchmarks/gpu_acceptance.py /tmp/acc
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
date +%T
} > $OUT/call3_log.txt 2>&1
