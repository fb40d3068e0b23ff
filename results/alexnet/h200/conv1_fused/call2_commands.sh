#!/bin/bash
# The pairs step (f53ba76 -> b3a2954) in the tools' own per-layer outputs at batch 4096; the pairs
# form against space-to-depth at batches 64 and 128; fp16 against bf16 at the power cap.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
E="--channels-last --rewrite --weights none --synthetic"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv
for tree in old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### profiler, $tree"
  (cd $dir && timeout 120 python3 alexnet/alexnet_profiler.py --precision bf16 $E --batch-sizes 4096 --output-dir $OUT/runs/profiler_$tree)
  echo "### roofline, $tree"
  (cd $dir && timeout 150 python3 alexnet/alexnet_ai.py --dtype bf16 $E --batch-sizes 4096 --measure --output-dir $OUT/runs/ai_$tree)
done
for batch in 64 128; do
  echo "### whole model, batch $batch"
  timeout 90 python3 benchmarks/investigations/rewrite_variants.py --batch-size $batch --only "^rewrite$|space-to-depth"
done
echo "### plain loops at 4096, clocks sampled every 50 ms"
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 50 > $OUT/call2_clocks.csv &
SMI=$!
for precision in bf16 fp16 bf16 fp16; do
  date +%T.%N
  python3 benchmarks/plain_loop.py --batch-size 4096 --precision $precision $T --iterations 300
done
date +%T.%N
kill $SMI
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT runs && rm -rf $OUT/runs
