#!/bin/bash
# Blocking waits in the loader workers (CU_CTX_SCHED_BLOCKING_SYNC, confirmed per worker) against the default
# spin, and with a CPU share, end to end on fresh 25,000-file sets; HEAD a8d612d's product code.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
cd probe/block
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ NAME=$1; shift 1; stamp "e2e $NAME"; rm -f /tmp/probe_flags_*
  timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --num-batches 0 --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "^Throughput \(end|^Loader|^Over the timed|rror"
  cat /tmp/probe_flags_* 2>/dev/null | sort | uniq -c; }
{
for ROUND in 1 2; do
  e2e varied_base_$ROUND --data-path $D/varied
  PROBE_BLOCKING_SYNC=1 e2e varied_block_$ROUND --data-path $D/varied
  PROBE_BLOCKING_SYNC=1 e2e varied_block_share90_$ROUND --data-path $D/varied --gpu-decode-share 0.9
  e2e same_base_$ROUND --data-path $D/same
  PROBE_BLOCKING_SYNC=1 e2e same_block_$ROUND --data-path $D/same
  PROBE_BLOCKING_SYNC=1 e2e same_block_share90_$ROUND --data-path $D/same --gpu-decode-share 0.9
done
e2e varied_base_share90_1 --data-path $D/varied --gpu-decode-share 0.9
PROBE_BLOCKING_SYNC=1 e2e varied_block_w10_1 --data-path $D/varied --workers 10
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call1_runs.tar.gz */*.json
