#!/bin/bash
# conv1's pairs form against space-to-depth at batches 2, 64 and 128, each form in its own process
# (eager, and compiled + graphed), at 383eefb.
OUT=$1
export PYTHONUNBUFFERED=1
{
for b in 2 64 128; do
  for only in 'space-to-depth$' '^rewrite$'; do
    echo "### batch $b, $only alone"; date +%T
    timeout 50 python3 benchmarks/investigations/rewrite_variants.py --batch-size $b --only "$only"
  done
done
date +%T
} > $OUT/call6_log.txt 2>&1
