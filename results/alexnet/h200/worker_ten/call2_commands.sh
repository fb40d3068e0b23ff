#!/bin/bash
# Acceptance at the product code of 4e53f69, then fresh 25,000-file sets (made beside it at nice 19): the default
# end-to-end command twice on each, and the original pipeline (PIL, 4 workers, 20 batches) once on each.
OUT=$1
HERE=results/alexnet/h200/worker_ten
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call2_log.txt
{ echo "tree: product code of 4e53f69"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
nice -n 19 python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
nice -n 19 python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1; echo "acceptance exit $?" >> $LOG
cp /tmp/acc/acceptance_log.txt $OUT/
stamp acceptance >> $LOG
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift
  timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "rror" | head -3
  python3 $HERE/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call2_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call2_runs/$NAME/; }
{
e2e varied_1 --data-path $D/varied --num-batches 0
e2e varied_pil4 --data-path $D/varied --num-batches 20 --decode pil --workers 4
e2e same_1 --data-path $D/same --num-batches 0
e2e same_pil4 --data-path $D/same --num-batches 20 --decode pil --workers 4
e2e varied_2 --data-path $D/varied --num-batches 0
e2e same_2 --data-path $D/same --num-batches 0
stamp done
} >> $LOG 2>&1
tar czf $OUT/call2_runs.tgz -C $OUT call2_runs && rm -rf $OUT/call2_runs
