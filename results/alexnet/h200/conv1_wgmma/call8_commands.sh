#!/bin/bash
# The GPU acceptance run at this commit (every README command, the defaults, pytest -m cuda): the product
# code is 70eea11's, whose GPU-executed changes since the last full run (c3d0792) had not run on a GPU.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
git log --oneline -1 2>/dev/null
timeout 540 python3 benchmarks/gpu_acceptance.py /tmp/acc
echo "acceptance exit status: $?"
} > $OUT/call8_log.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/call8_acceptance_log.txt 2>/dev/null
