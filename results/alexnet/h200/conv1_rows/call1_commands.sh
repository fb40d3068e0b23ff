#!/bin/bash
# At 4ae148e + benchmarks/investigations/conv_pairs_rows.py: conv_pairs with K steps on kernel-row
# boundaries against the shipped kernel, then the full GPU acceptance run (README commands, defaults,
# pytest -m cuda with its whole output in acceptance_log.txt).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### conv_pairs_rows"; date +%T
timeout 110 python3 benchmarks/investigations/conv_pairs_rows.py
echo "### acceptance"; date +%T
timeout 465 python3 benchmarks/gpu_acceptance.py /tmp/acc
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
date +%T
} > $OUT/call1_log.txt 2>&1
