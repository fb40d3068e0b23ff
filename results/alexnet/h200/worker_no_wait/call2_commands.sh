#!/bin/bash
# C = 345630a (taps in kernels + no worker sync); E = working tree (C + read_encoded with os-level calls);
# E with 10 and 12 workers. Fresh 25,000-file varied set.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call2_log.txt
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
for ROUND in 1 2; do
  e2e probe/C varied_C_$ROUND --data-path $D/varied
  e2e . varied_E_$ROUND --data-path $D/varied
  e2e . varied_E10_$ROUND --data-path $D/varied --workers 10
  e2e . varied_E12_$ROUND --data-path $D/varied --workers 12
done
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call2_runs.tgz .
