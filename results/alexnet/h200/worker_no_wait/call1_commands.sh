#!/bin/bash
# A = main (1a56fcf's product code), B = resize taps in kernels (97be47a), C = B + the worker no longer waits for
# its resize (345630a), D = C + threaded read (working tree); end to end on fresh 25,000-file sets.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
e2e probe/A varied_A_1 --data-path $D/varied
e2e probe/B varied_B_1 --data-path $D/varied
e2e probe/C varied_C_1 --data-path $D/varied
e2e . varied_D_1 --data-path $D/varied
e2e . varied_D_2 --data-path $D/varied
e2e probe/C varied_C_2 --data-path $D/varied
e2e probe/B varied_B_2 --data-path $D/varied
e2e probe/A varied_A_2 --data-path $D/varied
stamp "two rounds"
e2e probe/C varied_C_3 --data-path $D/varied
e2e probe/A varied_A_3 --data-path $D/varied
e2e . varied_D_3 --data-path $D/varied
e2e probe/B varied_B_3 --data-path $D/varied
stamp "three rounds"
e2e probe/A same_A_1 --data-path $D/same
e2e probe/C same_C_1 --data-path $D/same
e2e . same_D_1 --data-path $D/same
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call1_runs.tgz .
