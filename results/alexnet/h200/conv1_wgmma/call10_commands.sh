#!/bin/bash
# The GPU acceptance run at this commit (every README command, the defaults, pytest -m cuda), with conv1_wgmma
# in the product.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
timeout 560 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
} > $OUT/call10_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call10_acceptance_log.txt 2>/dev/null
