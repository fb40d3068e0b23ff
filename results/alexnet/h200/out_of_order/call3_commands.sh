#!/bin/bash
# B = working tree (44464fb + DataLoader(in_order=False)), with 8 and 10 workers; C = B with 3 CPU threads per
# worker; the original pipeline (PIL, 4 workers, 20 batches) on each set. Fresh 25,000-file sets.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
{ echo "trees: B 44464fb + in_order=False; C = B + CPU_THREADS_PER_WORKER 3"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
for R in 1 2 3; do
  e2e . varied_B8_$R --data-path $D/varied --num-batches 0
  e2e . varied_B10_$R --data-path $D/varied --num-batches 0 --workers 10
  [ $R -le 2 ] && e2e probe/C varied_C8_$R --data-path $D/varied --num-batches 0
  [ $R -le 2 ] && e2e . same_B8_$R --data-path $D/same --num-batches 0
  [ $R -le 2 ] && e2e . same_B10_$R --data-path $D/same --num-batches 0 --workers 10
  stamp "round $R"
done
e2e . varied_pil4 --data-path $D/varied --num-batches 20 --decode pil --workers 4
e2e . same_pil4 --data-path $D/same --num-batches 20 --decode pil --workers 4
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call3_runs.tgz .
