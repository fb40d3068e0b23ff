#!/bin/bash
# Tree 4e53f69 (resize kernels divide once). CUDA tests of the resize and the GPU decoders first; then fresh
# 25,000-file sets and the default end-to-end command with 8 (the default), 9 and 10 loader workers,
# alternating, three rounds on the varied set and two on the same-size one.
OUT=$1
HERE=results/alexnet/h200/worker_ten
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
{ git log --oneline -1 2>/dev/null || echo "tree 4e53f69"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
timeout 150 python3 -m pytest -q -m cuda tests/test_cuda.py -k "resize or gpu_decoders or back_to_back or end_to_end" >> $LOG 2>&1
stamp "cuda tests rc $?" >> $LOG
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift
  timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "rror" | head -3
  python3 $HERE/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call1_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call1_runs/$NAME/; }
{
for round in 1 2 3; do
  e2e varied_w8_$round --data-path $D/varied --num-batches 0
  e2e varied_w10_$round --data-path $D/varied --num-batches 0 --workers 10
  e2e varied_w9_$round --data-path $D/varied --num-batches 0 --workers 9
  stamp "varied round $round"
done
for round in 1 2; do
  e2e same_w10_$round --data-path $D/same --num-batches 0 --workers 10
  e2e same_w8_$round --data-path $D/same --num-batches 0
  stamp "same-size round $round"
done
} >> $LOG 2>&1
tar czf $OUT/call1_runs.tgz -C $OUT call1_runs && rm -rf $OUT/call1_runs
