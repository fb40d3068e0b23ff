#!/bin/bash
# diagnostics for #13: are the JPEG engines or the cores saturated end to end?
OUT=$1
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec > >(tee "$OUT/call1_log.txt") 2>&1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T.%N)"; }
nvidia-smi --query-gpu=name,driver_version,compute_mode --format=csv,noheader; nproc; git log --oneline -1
nvidia-smi dmon -s u -c 1
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same25 --count 10000 --classes 100 > /tmp/gen_same.txt 2>&1 &
G1=$!
python3 benchmarks/make_jpegs.py $D/varied25 --count 10000 --classes 100 --varied > /tmp/gen_var.txt 2>&1 &
G2=$!
wait $G1; wait $G2
stamp generated
python3 - <<'PY'
import os
from cnnbench.data import imagenet_wnids
w = imagenet_wnids()
for name in ("same", "varied"):
    src, dst = f"/tmp/data/{name}25", f"/tmp/data/{name}"
    for k in range(8):
        for i, c in enumerate(sorted(os.listdir(src))):
            d = os.path.join(dst, w[100 * k + i]); os.makedirs(d)
            for f in os.listdir(os.path.join(src, c)):
                os.link(os.path.join(src, c, f), os.path.join(d, f))
PY
find $D -type f | xargs cat > /dev/null
du -sh $D/same25 $D/varied25; find $D/same -type f | wc -l
stamp linked
mon_start(){ nvidia-smi dmon -s u -d 1 -o T > /tmp/dmon.txt 2>&1 & DM=$!; vmstat -t 1 > /tmp/vm.txt 2>&1 & VM=$!; }
mon_stop(){ kill $DM $VM; sleep 0.5; echo "--- dmon"; cat /tmp/dmon.txt; echo "--- vmstat"; cat /tmp/vm.txt; }
e2e(){ NAME=$1; shift; stamp "e2e $NAME"; mon_start
  timeout 200 taskset -c 0-15 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --num-batches 0 --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' | grep -E "^Throughput|^Loader|^Input|Error|error" 
  stamp "e2e $NAME done"; mon_stop; }
e2e same8 --data-path $D/same
e2e varied8 --data-path $D/varied
e2e varied6 --data-path $D/varied --workers 6
e2e varied12 --data-path $D/varied --workers 12
sed 's/^BATCH = 256/BATCH = int(__import__("os").environ.get("MIX_BATCH", 256))/' benchmarks/investigations/decoder_mix.py > benchmarks/investigations/mix_batch.py
for B in 256 512; do
  stamp "mix varied batch $B"; mon_start
  MIX_BATCH=$B timeout 120 python3 benchmarks/investigations/mix_batch.py $D --sets varied --files 2048 --mixes "tv*8" --seconds 4 2>&1 | grep -v -i warn
  mon_stop
done
stamp "mix same batch 256"; mon_start
timeout 120 python3 benchmarks/investigations/mix_batch.py $D --sets same --files 2048 --mixes "tv*8" --seconds 4 2>&1 | grep -v -i warn
mon_stop
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d; stamp "mps started rc $?"
e2e varied8_mps --data-path $D/varied
e2e same8_mps --data-path $D/same
echo quit | nvidia-cuda-mps-control; stamp "mps quit"
stamp done
