#!/bin/bash
# 134d939 on the GPU: the default end-to-end command with more workers (--workers 12, 16) on fresh 25,000-file
# sets, one run each (what more CUDA contexts on the JPEG engines give now that the worker does not wait for its resize).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call5_log.txt
echo "tree: 134d939" > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift 1
  timeout 40 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "rror" | head -3
  python3 probe/summ.py /tmp/res/$NAME; }
{
e2e same_w12 --data-path $D/same --workers 12
e2e same_w16 --data-path $D/same --workers 16
e2e varied_w16 --data-path $D/varied --workers 16
e2e same_w8 --data-path $D/same
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call5_runs.tgz */*.json
