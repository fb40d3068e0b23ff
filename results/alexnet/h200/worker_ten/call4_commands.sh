#!/bin/bash
# Acceptance at 49a2f3f: every README command and each script's defaults on the GPU, then pytest -m cuda.
OUT=$1
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1; echo "acceptance exit $?" > $OUT/call4_log.txt
cp /tmp/acc/acceptance_log.txt $OUT/
