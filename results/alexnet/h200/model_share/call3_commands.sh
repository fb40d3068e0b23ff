#!/bin/bash
# Tree 4931f7d (H) and 4931f7d + PROBE_MODE (X: loader_only = no normalize and no model; no_model = normalize, no model).
# Fresh 25,000-file sets. Same-size: the default end-to-end command twice, the original pipeline (PIL, 4 workers,
# 20 batches), the two bounds. Varied: the default command, then with --cuda-graphs twice. Then both under a
# user-started MPS daemon (quit after).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
{ echo "trees: H 4931f7d, X 4931f7d + PROBE_MODE"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call3_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call3_runs/$NAME/; }
{
e2e . same_H_1 --data-path $D/same --num-batches 0
e2e . same_pil4 --data-path $D/same --num-batches 20 --decode pil --workers 4
PROBE_MODE=loader_only e2e probe/X same_L_1 --data-path $D/same --num-batches 0
PROBE_MODE=no_model e2e probe/X same_N_1 --data-path $D/same --num-batches 0
e2e . same_H_2 --data-path $D/same --num-batches 0
stamp same-size >> $LOG
e2e . varied_H_1 --data-path $D/varied --num-batches 0
e2e . varied_G_1 --data-path $D/varied --num-batches 0 --cuda-graphs
e2e . varied_G_2 --data-path $D/varied --num-batches 0 --cuda-graphs
stamp varied
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d; stamp "mps started rc $?"; sleep 1
e2e . same_mps --data-path $D/same --num-batches 0
e2e . varied_mps --data-path $D/varied --num-batches 0
echo quit | nvidia-cuda-mps-control; stamp "mps quit"
} >> $LOG 2>&1
tar czf $OUT/call3_runs.tgz -C $OUT call3_runs && rm -rf $OUT/call3_runs
