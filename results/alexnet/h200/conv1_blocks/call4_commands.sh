#!/bin/bash
# The GPU acceptance run at a75e8ac (conv1 runs its pool's row part; what a GPU runs is ca5fce0's).
OUT=$1
export PYTHONUNBUFFERED=1
timeout 560 python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc=$?" >> $OUT/acceptance_stdout.txt
cp /tmp/acc/acceptance_log.txt $OUT/ 2>/dev/null
