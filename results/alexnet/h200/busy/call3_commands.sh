#!/bin/bash
# acceptance at HEAD, then the default end to end on 25k-file sets with the busy figures, and once under MPS
OUT=$1
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
{ git log --oneline -1; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; } > $OUT/call3_log.txt
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
G1=$!
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
G2=$!
timeout 430 python3 benchmarks/gpu_acceptance.py /tmp/acc > /tmp/acc_stdout.txt 2>&1
echo "acceptance rc $?" >> $OUT/call3_log.txt
tail -15 /tmp/acc_stdout.txt >> $OUT/call3_log.txt; cp /tmp/acc/acceptance_log.txt $OUT/
wait $G1; wait $G2
find $D -type f | xargs cat > /dev/null
stamp generated >> $OUT/call3_log.txt
e2e(){ NAME=$1; shift; stamp "e2e $NAME"
  timeout 120 taskset -c 0-15 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "^Throughput|^Loader|^Over the timed|^Input|rror"; }
{
e2e same_default --data-path $D/same --num-batches 0
e2e varied_default --data-path $D/varied --num-batches 0
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d; stamp "mps started rc $?"
e2e same_mps --data-path $D/same --num-batches 0
echo quit | nvidia-cuda-mps-control; stamp "mps quit"
stamp done
} >> $OUT/call3_log.txt 2>&1
mkdir -p $OUT/runs; for f in /tmp/res/*/alexnet_imagenet_*.json; do n=$(basename $(dirname $f)); cp $f $OUT/runs/$n.json; done
