#!/bin/bash
# Loader worker count, GIL switch interval (probe/switch), resize plan cache (.) against HEAD (probe/base), on
# fresh 25,000-file sets; then the varied set without the files only the CPU decodes.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
cp -al $D/varied $D/varied_gpu_only && python3 probe/nofallback.py $D/varied_gpu_only >> $LOG
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
for ROUND in 1 2; do
  e2e probe/base varied_head_w8_$ROUND --data-path $D/varied
  e2e . varied_cache_w8_$ROUND --data-path $D/varied
  e2e probe/switch varied_switch_w8_$ROUND --data-path $D/varied
done
e2e . varied_cache_w6 --data-path $D/varied --workers 6
e2e . varied_cache_w7 --data-path $D/varied --workers 7
e2e . varied_gpu_only_cache_w8 --data-path $D/varied_gpu_only
e2e . same_cache_w8 --data-path $D/same
e2e . same_cache_w6 --data-path $D/same --workers 6
e2e probe/switch same_switch_w8 --data-path $D/same
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call3_runs.tgz .
