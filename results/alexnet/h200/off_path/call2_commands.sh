#!/bin/bash
# GPU acceptance at HEAD 0043d64 while 25k sets are generated; then A/B with each tree run from its own
# directory: base 6f3c054 (fetch reads, stage copies) against new 0043d64 (read straight into the pinned buffer).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call2_log.txt
ROOT=$(pwd)
{ echo "new = 0043d64 (working tree), base = 6f3c054 (probe/base, run from there)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
G1=$!
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
G2=$!
timeout 400 python3 benchmarks/gpu_acceptance.py /tmp/acc > /tmp/acc_stdout.txt 2>&1
echo "acceptance rc $?" >> $LOG
tail -15 /tmp/acc_stdout.txt >> $LOG; cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log_0043d64.txt
wait $G1; wait $G2
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; DIR=$2; shift 2; stamp "e2e $NAME"
  (cd $DIR && timeout 100 taskset -c 0-15 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "^Throughput|^Loader|^Over the timed|rror"); }
{
for SET in same varied; do
  e2e ${SET}_base $ROOT/probe/base --data-path $D/$SET --num-batches 0
  e2e ${SET}_new $ROOT --data-path $D/$SET --num-batches 0
done
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/runs2.tar.gz */*.json
