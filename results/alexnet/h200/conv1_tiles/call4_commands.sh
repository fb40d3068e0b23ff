#!/bin/bash
# Host cost of the pairs form's launch in eager, and the profiler's per-layer table at batch 16
# (the working tree over 9888570).
OUT=$1
export PYTHONUNBUFFERED=1
{
echo "### pairs launch cost, batch 16"; date +%T
timeout 90 python3 benchmarks/investigations/pairs_launch_cost.py --batch-size 16
echo "### profiler, rewrite, batch 16"; date +%T
timeout 90 python3 alexnet/alexnet_profiler.py --rewrite --batch-size 16 --channels-last --precision bf16 \
    --weights none --synthetic --output-dir $OUT/runs/profiler16
date +%T
} > $OUT/call4_log.txt 2>&1
tar -czf $OUT/call4_runs.tgz --exclude '*trace*' -C $OUT runs && rm -rf $OUT/runs   # the tar line as run put its options last (an error); the tgz was made here without the trace
