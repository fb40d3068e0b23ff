#!/bin/bash
# conv_pairs by kernel rows (a prototype in conv_pairs_tiles.py) against the shipped kernel, and the
# pairs form against space-to-depth at batches 16 and 64, eager and compiled (the working tree over 9888570).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call3_clocks.csv &
SMI=$!
for b in 4096 256; do
  echo "### conv_pairs by rows, batch $b"; date +%T
  timeout 90 python3 benchmarks/investigations/conv_pairs_tiles.py --batch-size $b --only 'shipped 128x32|by rows'
done
for b in 16 64; do
  echo "### pairs against space-to-depth, batch $b"; date +%T
  timeout 60 python3 benchmarks/investigations/rewrite_variants.py --batch-size $b --only '^rewrite$|space-to-depth$'
done
date +%T
kill $SMI
} > $OUT/call3_log.txt 2>&1
