#!/bin/bash
# The last product commit on the GPU: the acceptance run while fresh 25,000-file sets are made (nice 19), then
# the default end-to-end run on each set beside the original pipeline (PIL, 4 workers, 20 batches).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/final_log.txt
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
nice -n 19 python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
nice -n 19 python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
stamp acceptance >> $LOG
timeout 430 python3 benchmarks/gpu_acceptance.py /tmp/acc > /tmp/acc_stdout.txt 2>&1
{ echo "acceptance rc $?"; tail -13 /tmp/acc_stdout.txt; } >> $LOG
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log.txt
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift 1; stamp "e2e $NAME"
  timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "^BENCHMARK|^Throughput|^Loader|^Over the timed|^Decoding|rror"; }
{
for SET in same varied; do
  e2e ${SET}_default --data-path $D/$SET --num-batches 0
  e2e ${SET}_pil4 --data-path $D/$SET --num-batches 20 --decode pil --workers 4
done
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/final_runs.tar.gz */*.json
