#!/bin/bash
# The acceptance run at 80fb1c8 (every README command with its defaults, pytest -m cuda), the measured
# bytes of the rewritten model after conv_pairs writes the image itself, and the eager forward at
# batch 16 in each conv1 form, each form in its own process.
OUT=$1
export PYTHONUNBUFFERED=1
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout_80fb1c8.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log_80fb1c8.txt
{
echo "### counters, rewrite, batch 1024"; date +%T
timeout 100 python3 alexnet/alexnet_ai.py --dtype bf16 --batch-sizes 1024 --channels-last --rewrite --counters \
    --cache warm --weights none --synthetic --output-dir $OUT/runs/counters
for only in 'space-to-depth$' '^rewrite$'; do
  echo "### eager and compiled, batch 16, $only alone"; date +%T
  timeout 50 python3 benchmarks/investigations/rewrite_variants.py --batch-size 16 --only "$only"
done
date +%T
} > $OUT/call5_log.txt 2>&1
tar -czf $OUT/call5_runs.tgz --exclude '*.ncu-rep' -C $OUT runs && rm -rf $OUT/runs
