#!/bin/bash
# AlexNet's three pools (with the bias and ReLU after them) by inductor, eager and a Triton kernel
# (batch 4096); then the GPU acceptance run (every README command with its defaults, pytest -m cuda).
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pool kernels, batch 4096"; date +%T
timeout 120 python3 benchmarks/investigations/pool_kernels.py --batch-size 4096
date +%T
} > $OUT/call8_log.txt 2>&1
timeout 450 python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc=$?" >> $OUT/acceptance_stdout.txt
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
