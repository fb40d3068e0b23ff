#!/bin/bash
# The end-to-end rate with no resize at all (probe/noresize: the workers hand on uninitialized crops) against
# 534c99d's product code (1a56fcf's), on a fresh 25,000-file varied set, two rounds.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call5_log.txt
python3 benchmarks/make_jpegs.py /tmp/varied --count 25000 --classes 100 --varied > /dev/null 2>&1
find /tmp/varied -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 45 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME --data-path /tmp/varied "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{ for ROUND in 1 2; do
  e2e . varied_head_$ROUND
  e2e probe/noresize varied_noresize_$ROUND
done
stamp done; } >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call5_runs.tgz .
