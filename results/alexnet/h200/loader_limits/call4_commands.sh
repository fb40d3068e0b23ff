#!/bin/bash
# Which GPU work beside the decoder costs it, without and with MPS (stage_probe.py, 8 processes, files in memory);
# then HEAD's default end to end on a fresh 25,000-file varied set, without and with MPS.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call4_log.txt
python3 benchmarks/make_jpegs.py /tmp/varied4k --count 4096 --classes 16 --varied > /dev/null 2>&1
find /tmp/varied4k -type f | xargs cat > /dev/null
export PROBE_LOADER=0 PROBE_VARIANTS=decode,decode_tiny,decode_fill,decode_resize,decode_model,worker,worker_model
{ stamp "probe, no MPS"
timeout 120 python3 probe/stage_probe.py /tmp/varied4k 8 4
stamp "probe, MPS"
nvidia-cuda-mps-control -d && sleep 1
timeout 120 python3 probe/stage_probe.py /tmp/varied4k 8 4
echo quit | nvidia-cuda-mps-control; sleep 2
stamp "generate 25,000 varied"
python3 benchmarks/make_jpegs.py /tmp/varied --count 25000 --classes 100 --varied > /dev/null 2>&1
find /tmp/varied -type f | xargs cat > /dev/null
e2e(){ NAME=$1; shift
  timeout 70 python3 alexnet/alexnet_benchmark.py --batch-size 256 --precision bf16 --channels-last \
    --weights none --quiet --num-batches 0 --output-dir /tmp/res/$NAME --data-path /tmp/varied "$@" 2>&1 | tr '\r' '\n' \
    | grep -a -E "rror" | head -3
  python3 probe/summ.py /tmp/res/$NAME; }
stamp "e2e"
e2e varied_nomps
nvidia-cuda-mps-control -d && sleep 1
e2e varied_mps
e2e varied_mps_w12 --workers 12
echo quit | nvidia-cuda-mps-control
stamp done
} >> $LOG 2>&1
cd /tmp/res && tar czf $OUT/call4_runs.tgz .
