#!/bin/bash
# The max-pools in eager --rewrite: ATen's NHWC pool against exact forms with wider channels or
# elementwise maxima (benchmarks/investigations/column_pool.py), bf16 channels_last, batch 4096.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
date +%T
timeout 400 python3 benchmarks/investigations/column_pool.py --batch-size 4096 2>&1 | grep -v WARNING
date +%T
} > $OUT/call2_log.txt 2>&1
