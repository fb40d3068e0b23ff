#!/bin/bash
# Acceptance on b3a2954; clocks and power while batch 4096 runs; the pairs form at batches 2 and 16.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,power.max_limit --format=csv
echo "### clocks and power, sampled every 50 ms, during the plain loop (300 replays) and the kernel table"
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
    --format=csv -lms 50 > $OUT/call1_clocks.csv &
SMI=$!
python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 300
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T
kill $SMI
for batch in 2 16; do
  echo "### whole model, batch $batch"
  timeout 90 python3 benchmarks/investigations/rewrite_variants.py --batch-size $batch --only "^rewrite$|space-to-depth"
done
} > $OUT/call1_log.txt 2>&1
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout_b3a2954.txt 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log_b3a2954.txt
