#!/bin/bash
# A = HEAD 44464fb (134d939's product code); B = working tree: DataLoader(in_order=False).
# Fresh 25,000-file sets; the default end-to-end command; A at batch 512 and 128 as a diagnostic.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
{ echo "trees: A 44464fb, B 44464fb + in_order=False"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 60 python3 alexnet/alexnet_benchmark.py --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME; }
{
for R in 1 2; do
  e2e probe/A varied_A_$R --data-path $D/varied --batch-size 256
  e2e . varied_B_$R --data-path $D/varied --batch-size 256
  e2e . same_B_$R --data-path $D/same --batch-size 256
  e2e probe/A same_A_$R --data-path $D/same --batch-size 256
  stamp "round $R"
done
e2e . varied_B_3 --data-path $D/varied --batch-size 256
e2e probe/A varied_A_3 --data-path $D/varied --batch-size 256
stamp "round 3"
e2e probe/A varied_A512 --data-path $D/varied --batch-size 512
e2e probe/A same_A512 --data-path $D/same --batch-size 512
e2e probe/A same_A128 --data-path $D/same --batch-size 128
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call1_runs.tgz .
