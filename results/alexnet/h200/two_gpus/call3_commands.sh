#!/bin/bash
# nvidia-h200-x2, the final HEAD: GPU acceptance (README commands, defaults, pytest -m cuda with its two-GPU test)
# while 25k sets are made; then torchrun end to end on both sets and a --device cuda:1 run, with the GPU
# processes listed mid-run (each process should hold a context on its own GPU only).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
{ echo "HEAD (working tree): $HEAD_COMMIT"; nvidia-smi --query-gpu=index,name,uuid,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 25000 --classes 100 > /tmp/gen_same.txt 2>&1 &
G1=$!
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
G2=$!
timeout 440 python3 benchmarks/gpu_acceptance.py /tmp/acc > /tmp/acc_stdout.txt 2>&1
echo "acceptance rc $?" >> $LOG
tail -14 /tmp/acc_stdout.txt >> $LOG; cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log.txt
grep -a -E "two_gpus|the_gpu_of_their|passed|failed|skipped" /tmp/acc/acceptance_log.txt | tail -5 >> $LOG
wait $G1; wait $G2
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
E2E="--batch-size 256 --precision bf16 --channels-last --weights none --num-batches 0"
apps(){ sleep $1; echo "-- after $1 s: GPU memory used, and compute processes per GPU:"; nvidia-smi --query-gpu=index,pci.bus_id,memory.used --format=csv,noheader
  nvidia-smi --query-compute-apps=pid,gpu_bus_id,used_memory --format=csv,noheader | awk -F, '{n[$2]++} END {for (g in n) print "   bus" g ": " n[g] " processes"}'; }
{
for SET in varied same; do
  stamp "torchrun e2e $SET"
  timeout 100 torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --data-path $D/$SET $E2E --output-dir /tmp/res/tr_$SET > /tmp/tr_$SET.txt 2>&1 &
  P=$!; apps 9; wait $P; echo "rc $?"
  tr '\r' '\n' < /tmp/tr_$SET.txt | grep -a -E "^Throughput|^Loader|^Over the timed|^Aggregate|^Files the GPU|^Total images|rror" 
done
stamp "cuda:1 e2e varied"
timeout 100 python3 alexnet/alexnet_benchmark.py --device cuda:1 --data-path $D/varied $E2E --output-dir /tmp/res/cuda1_varied > /tmp/c1.txt 2>&1 &
P=$!; apps 7; wait $P; echo "rc $?"
tr '\r' '\n' < /tmp/c1.txt | grep -a -E "^BENCH|^Throughput|^Loader|^Over the timed|^Files the GPU|rror"
} >> $LOG 2>&1
(cd /tmp/res && tar czf $OUT/runs3.tar.gz */*.json)
{
stamp "cuda:1 e2e varied, 55fab51 (before e99f21c), from its own checkout"
(cd probe/base && timeout 60 python3 alexnet/alexnet_benchmark.py --device cuda:1 --data-path $D/varied $E2E --output-dir /tmp/res/cuda1_base > /tmp/c1b.txt 2>&1) &
P=$!; apps 7; wait $P; echo "rc $?"
tr '\r' '\n' < /tmp/c1b.txt | grep -a -E "^BENCH|^Throughput|^Loader|^Over the timed|^Files the GPU|rror" | tail -8
stamp done
} >> $LOG 2>&1
