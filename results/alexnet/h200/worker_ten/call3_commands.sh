#!/bin/bash
# Three trees, each a copy of 4e53f69's files (probe/A) or with one change (probe/B: call3_nice.diff, the workers'
# CPU-decode threads at nice 10; probe/C: call3_read_views.diff, a batch's file views made in one split).
# A fresh 25,000-file varied set; the default end-to-end command, three rounds, the trees alternating.
OUT=$1
HERE=$PWD/results/alexnet/h200/worker_ten
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
{ echo "trees: probe/A 4e53f69, probe/B + call3_nice.diff, probe/C + call3_read_views.diff"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd probe/$TREE && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "rror" | head -3)
  python3 $HERE/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call3_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call3_runs/$NAME/; }
{
for round in 1 2 3; do
  e2e A varied_A_$round --data-path $D/varied --num-batches 0
  e2e B varied_B_$round --data-path $D/varied --num-batches 0
  e2e C varied_C_$round --data-path $D/varied --num-batches 0
  stamp "round $round"
done
} >> $LOG 2>&1
tar czf $OUT/call3_runs.tgz -C $OUT call3_runs && rm -rf $OUT/call3_runs
