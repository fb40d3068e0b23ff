#!/bin/bash
# F = a2e9182 (the rows kernel's early return), P = 965c48d (before it): the default end-to-end command on fresh
# 25,000-file sets, and the original pipeline (PIL, 4 workers, 20 batches) on each set, in the same call.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call5_log.txt
{ echo "trees: F a2e9182, P 965c48d"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call5_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call5_runs/$NAME/; }
{
e2e . varied_F_1 --data-path $D/varied --num-batches 0
e2e probe/P varied_P_1 --data-path $D/varied --num-batches 0
e2e . same_F_1 --data-path $D/same --num-batches 0
e2e . varied_pil4 --data-path $D/varied --num-batches 20 --decode pil --workers 4
e2e . same_pil4 --data-path $D/same --num-batches 20 --decode pil --workers 4
stamp "round 1 and PIL"
e2e . varied_F_2 --data-path $D/varied --num-batches 0
e2e probe/P varied_P_2 --data-path $D/varied --num-batches 0
e2e . same_F_2 --data-path $D/same --num-batches 0
e2e . varied_F_3 --data-path $D/varied --num-batches 0
stamp done
} >> $LOG 2>&1
