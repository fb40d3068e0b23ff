#!/bin/bash
# The resize plan cache (working tree) against HEAD (probe/base), end to end on fresh 25,000-file sets; stage probe.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call2_log.txt
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
for ROUND in 1 2; do
  for SET in varied same; do
    e2e probe/base ${SET}_head_$ROUND --data-path $D/$SET
    e2e . ${SET}_cache_$ROUND --data-path $D/$SET
  done
done
stamp "probe varied"
timeout 120 python3 probe/stage_probe.py $D/varied 8 4
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call2_runs.tgz . 
