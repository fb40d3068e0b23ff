#!/bin/bash
# Same-size, fresh 25,000-file set: the loader alone (d19bb88 + call1_probe_mode.diff, PROBE_MODE=loader_only)
# with 8, 12 and 16 workers: is 25,000 images/s beyond the loader itself?
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call5_log.txt
{ echo "tree: X d19bb88 + PROBE_MODE"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call5_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call5_runs/$NAME/; }
{
PROBE_MODE=loader_only e2e probe/X same_L8 --data-path $D/same --num-batches 0
PROBE_MODE=loader_only e2e probe/X same_L12 --data-path $D/same --num-batches 0 --workers 12
PROBE_MODE=loader_only e2e probe/X same_L16 --data-path $D/same --num-batches 0 --workers 16
stamp done
} >> $LOG 2>&1
tar czf $OUT/call5_runs.tgz -C $OUT call5_runs && rm -rf $OUT/call5_runs
