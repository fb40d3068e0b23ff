#!/bin/bash
# Is conv1's pairs kernel bound by its L2 reads? Tile forms that read fewer bytes per FLOP, the
# measured-bytes run of the rewritten model, the classifier reading NHWC, and pairs against
# space-to-depth at small batches (the working tree over fc6e65a).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/call1_clocks.csv &
SMI=$!
echo "### conv_pairs tiles"; date +%T
timeout 150 python3 benchmarks/investigations/conv_pairs_tiles.py --batch-size 4096
echo "### classifier reads NHWC, batch 4096"; date +%T
timeout 110 python3 benchmarks/investigations/rewrite_variants.py --batch-size 4096 --only '^rewrite$|NHWC'
echo "### counters, rewrite, batch 1024"; date +%T
timeout 170 python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1024 --channels-last --rewrite --counters \
    --cache warm --weights none --synthetic --output-dir $OUT/runs/counters
for b in 2 8; do
  echo "### pairs against space-to-depth, batch $b"; date +%T
  timeout 60 python3 benchmarks/investigations/rewrite_variants.py --batch-size $b --only '^rewrite$|space-to-depth$'
done
date +%T
kill $SMI
} > $OUT/call1_log.txt 2>&1
tar -czf $OUT/call1_runs.tgz -C $OUT runs && rm -rf $OUT/runs
