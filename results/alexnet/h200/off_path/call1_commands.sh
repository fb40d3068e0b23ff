#!/bin/bash
# A/B: base 6f3c054 (read in fetch, copy in stage) against new 0043d64 (read straight into the pinned buffer),
# 8 and 10 workers, on fresh 25k-file sets, two rounds; PIL beside; then the nasty set on the GPU.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
{ echo "new = 0043d64 (working tree), base = 6f3c054 (probe/base)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; SCRIPT=$2; shift 2; stamp "e2e $NAME"
  timeout 100 taskset -c 0-15 python3 $SCRIPT --batch-size 256 --precision bf16 --channels-last \
    --weights none --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "^Throughput|^Loader|^Over the timed|^Decoding|rror"; }
NEW=alexnet/alexnet_benchmark.py; BASE=probe/base/alexnet/alexnet_benchmark.py
{
for ROUND in 1 2; do for SET in same varied; do
  e2e ${SET}_base_r$ROUND $BASE --data-path $D/$SET --num-batches 0
  e2e ${SET}_new_r$ROUND $NEW --data-path $D/$SET --num-batches 0
  e2e ${SET}_new10_r$ROUND $NEW --data-path $D/$SET --num-batches 0 --workers 10
done; done
for SET in same varied; do e2e ${SET}_pil $NEW --data-path $D/$SET --num-batches 20 --decode pil --workers 4; done
stamp "nasty probe"
timeout 60 python3 probe/nasty_probe.py cuda 2>&1 | grep -v Warn
e2e nasty_default $NEW --data-path probe/nasty --num-batches 0 --batch-size 7
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/runs.tar.gz */*.json
