#!/bin/bash
# Same-size, fresh 25,000-file set: 4931f7d (H), its model thread waiting for each forward before the next
# (X with PROBE_SYNC=1: at most one forward queued on the model's context), and H with --cuda-graphs. Two rounds.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call4_log.txt
{ echo "trees: H 4931f7d, X 4931f7d + PROBE_MODE/PROBE_SYNC"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call4_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call4_runs/$NAME/; }
{
for r in 1 2; do
e2e . same_H_$r --data-path $D/same --num-batches 0
PROBE_SYNC=1 e2e probe/X same_S_$r --data-path $D/same --num-batches 0
e2e . same_G_$r --data-path $D/same --num-batches 0 --cuda-graphs
stamp "round $r"
done
} >> $LOG 2>&1
tar czf $OUT/call4_runs.tgz -C $OUT call4_runs && rm -rf $OUT/call4_runs
