#!/bin/bash
# The CUDA tests of the GPU sampler at HEAD; then where the energy goes at batch 4096 with conv1 in
# the pairs form and in the space-to-depth form, twice each, alternating (layer_energy.py, bf16).
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pytest"; date +%T
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k "energy or sampler or end_to_end_on_cuda" 2>&1 | tail -4
for round in 1 2; do
  for form in pairs s2d; do
    flag=""; [ $form = s2d ] && flag="--space-to-depth"
    echo "### layer energy, batch 4096, bf16, $form, round $round"; date +%T
    timeout 150 python3 benchmarks/investigations/layer_energy.py --batch-size 4096 --precision bf16 --channels-last \
        --rewrite --compile default --seconds 1.0 $flag
  done
done
date +%T
} > $OUT/call3_log.txt 2>&1
