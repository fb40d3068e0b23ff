#!/bin/bash
# 134d939 (main) on the GPU: fresh 25,000-file sets, the default end-to-end command on each, three rounds, and the
# original pipeline (PIL, 4 workers, 20 batches) on each, in the same call.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call4_log.txt
{ echo "tree: 134d939"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift 1; stamp "e2e $NAME"
  timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "^Throughput|^Loader|^Over the timed|^Decoding|rror"; }
{
for ROUND in 1 2 3; do
  e2e varied_default_$ROUND --data-path $D/varied --num-batches 0
  e2e same_default_$ROUND --data-path $D/same --num-batches 0
done
e2e varied_pil4 --data-path $D/varied --num-batches 20 --decode pil --workers 4
e2e same_pil4 --data-path $D/same --num-batches 20 --decode pil --workers 4
stamp done
python3 probe/summ.py /tmp/res
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call4_runs.tgz */*.json
