#!/bin/bash
# nvidia-h200-x2: the torchrun paths on two GPUs (synthetic, compiled, sweep, end to end on 25k sets), the
# single-process scripts under torchrun (refused), profiler and roofline on odd files, and a one-GPU
# varied A/B of 0043d64 (probe/base, run from there) against the working tree (55fab51 + the torchrun fixes).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call2_log.txt
ROOT=$(pwd)
{ echo "working tree = 55fab51 + torchrun fixes; base = 0043d64"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; which torchrun; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
G1=$!
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
G2=$!
run(){ NAME=$1; LIMIT=$2; shift 2; stamp "$NAME: $*"; timeout $LIMIT "$@" > /tmp/out_$NAME.txt 2>&1; echo "rc $?"
  tr '\r' '\n' < /tmp/out_$NAME.txt | grep -a -v -E "it/s\]|forward/s\]|batch/s\]|^\s*$|\*\*\*\*\*|OMP_NUM_THREADS" | tail -${TAIL:-14}; }
{
TAIL=12 run tr_synthetic 120 torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --output-dir /tmp/res/tr_synthetic
TAIL=8 run tr_fast4096 200 torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite --compile --cuda-graphs --weights none --output-dir /tmp/res/tr_fast4096
TAIL=20 run tr_sweep 150 torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --sweep --precision fp32,bf16 --executions eager,cuda-graphs --batch-sizes 1,256 --weights none --output-dir /tmp/res/tr_sweep
TAIL=3 run tr_profiler 60 torchrun --nproc_per_node 2 alexnet/alexnet_profiler.py --output-dir /tmp/res/tr_profiler
TAIL=8 run odd_profiler 120 python3 alexnet/alexnet_profiler.py --data-path probe/nasty --weights none --precision bf16 --batch-sizes 7,32 --output-dir /tmp/res/odd_profiler
TAIL=8 run odd_ai 120 python3 alexnet/alexnet_ai.py --data-path probe/nasty --weights none --dtype bf16 --batch-sizes 1,7 --measure --output-dir /tmp/res/odd_ai
} >> $LOG 2>&1
wait $G1; wait $G2
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
E2E="--batch-size 256 --precision bf16 --channels-last --weights none --num-batches 0"
e2e(){ NAME=$1; DIR=$2; shift 2; stamp "e2e $NAME"
  (cd $DIR && CUDA_VISIBLE_DEVICES=0 timeout 90 taskset -c 0-15 python3 alexnet/alexnet_benchmark.py $E2E --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -a -E "^Throughput|^Loader|^Over the timed|rror"); }
{
for SET in varied same; do
  TAIL=18 run tr_e2e_$SET 150 torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --data-path $D/$SET $E2E --output-dir /tmp/res/tr_e2e_$SET
done
for R in 1 2; do
  e2e varied_base_r$R $ROOT/probe/base --data-path $D/varied
  e2e varied_new_r$R $ROOT --data-path $D/varied
done
e2e same_new $ROOT --data-path $D/same
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/runs2.tar.gz */*.json */*.txt
