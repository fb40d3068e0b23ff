#!/bin/bash
# H = HEAD a667ca6; X = HEAD with PROBE_MODE: loader_only (no normalize, no model), no_model (normalize, no model).
# Then the world's odd files through the default GPU path.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
{ echo "trees: H a667ca6, X a667ca6 + PROBE_MODE"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, torchvision, PIL; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__, 'PIL', PIL.__version__)"; } > $LOG
D=/tmp/data
rm -rf $D
python3 benchmarks/make_jpegs.py $D/varied --count 25000 --classes 100 --varied > /dev/null 2>&1 &
python3 probe/hostile.py $D/hostile 3 >> $LOG 2>&1
mkdir -p $D/trunc/n01440764 && cp $D/hostile/n01484850/*_0.JPEG $D/trunc/n01440764/
python3 - <<'PY'
from pathlib import Path
src = Path("/tmp/data/hostile/n01443537/s422_0.JPEG").read_bytes()
Path("/tmp/data/trunc/n01440764/trunc60.JPEG").write_bytes(src[: int(len(src) * 0.6)])
bad = bytearray(src)
for i in range(len(bad) // 2, len(bad) // 2 + 200): bad[i] = 0x55
Path("/tmp/data/trunc/n01440764/scribbled.JPEG").write_bytes(bytes(bad))
PY
wait
find $D -type f | xargs cat > /dev/null
stamp generated >> $LOG
e2e(){ TREE=$1; NAME=$2; shift 2
  (cd $TREE && timeout 90 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --output-dir /tmp/res/$NAME "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3)
  python3 probe/summ.py /tmp/res/$NAME
  mkdir -p $OUT/call1_runs/$NAME && cp /tmp/res/$NAME/*.json $OUT/call1_runs/$NAME/; }
{
for r in 1 2; do
e2e . varied_H_$r --data-path $D/varied --num-batches 0
PROBE_MODE=loader_only e2e probe/X varied_L_$r --data-path $D/varied --num-batches 0
PROBE_MODE=no_model e2e probe/X varied_N_$r --data-path $D/varied --num-batches 0
stamp "round $r"
done
e2e . varied_H_3 --data-path $D/varied --num-batches 0
stamp "e2e done"
echo "=== hostile, default flags but batch 7 (full report)"
timeout 120 python3 alexnet/alexnet_benchmark.py --data-path $D/hostile --batch-size 7 --weights none --output-dir /tmp/res/hostile7 2>&1 | tr '\r' '\n' | grep -a -v -E "^(batches|warm-up)" | tail -32; echo "exit ${PIPESTATUS[0]}"
echo "=== hostile, the README's flags, batch 256 (one partial batch)"
timeout 120 python3 alexnet/alexnet_benchmark.py --data-path $D/hostile --batch-size 256 --precision bf16 --channels-last --weights none --quiet --output-dir /tmp/res/hostile256 2>&1 | tail -3; echo "exit ${PIPESTATUS[0]}"
python3 probe/summ.py /tmp/res/hostile7; python3 probe/summ.py /tmp/res/hostile256
echo "=== hostile, per kind through DecodeOnDevice(cuda, nvjpeg)"
PYTHONPATH=$PWD timeout 180 python3 probe/hostile_gpu.py $D/hostile nvjpeg 2>&1 | tail -40
echo "=== truncated and scribbled files, default GPU path"
timeout 120 python3 alexnet/alexnet_benchmark.py --data-path $D/trunc --batch-size 4 --weights none --quiet --output-dir /tmp/res/trunc 2>&1 | tail -3; echo "exit ${PIPESTATUS[0]}"
timeout 120 python3 alexnet/alexnet_benchmark.py --data-path $D/trunc --batch-size 4 --weights none --quiet --skip-bad-images --output-dir /tmp/res/trunc_skip 2>&1 | tail -3; echo "exit ${PIPESTATUS[0]}"
python3 probe/summ.py /tmp/res/trunc_skip
mkdir -p $OUT/call1_runs/odd && cp /tmp/res/hostile7/*.json /tmp/res/hostile256/*.json /tmp/res/trunc_skip/*.json $OUT/call1_runs/odd/ 2>/dev/null
stamp done
} >> $LOG 2>&1
