#!/bin/bash
# Off the demo path on the GPU at 0043d64: odd batch sizes, the last partial batch under graphs + compile,
# gpu decode in the main process, other formats, damaged files, out of memory, the other scripts on real files.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
echo "commit 0043d64 (working tree)" > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/varied --count 3000 --classes 30 --varied --other-share 0.3 > /dev/null 2>&1
stamp generated >> $LOG
run(){ NAME=$1; shift; stamp "$NAME: $*"
  timeout 150 taskset -c 0-15 python3 "$@" --weights none --output-dir /tmp/res/$NAME > /tmp/$NAME.txt 2>&1
  echo "rc=$?"; tr '\r' '\n' < /tmp/$NAME.txt | grep -a -E "^Throughput|^Total images|^Decoding|^Batch time|rror|Traceback|^Report|^Data:|skipped|out of memory" | head -12; }
B=alexnet/alexnet_benchmark.py
{
run b1 $B --data-path $D/varied --batch-size 1 --num-batches 30
run b999 $B --data-path $D/varied --batch-size 999 --num-batches 0
run b999_fast $B --data-path $D/varied --batch-size 999 --num-batches 0 --precision bf16 --channels-last --rewrite --compile --cuda-graphs
run w0 $B --data-path $D/varied --batch-size 256 --num-batches 0 --workers 0
run cpu $B --data-path $D/varied --batch-size 256 --num-batches 0 --decode cpu
run nvimgcodec $B --data-path $D/varied --batch-size 256 --num-batches 0 --decode nvimgcodec
run share $B --data-path $D/varied --batch-size 256 --num-batches 0 --gpu-decode-share 0.5
run nasty $B --data-path probe/nasty --batch-size 7 --num-batches 0 --decode gpu
run bad $B --data-path probe/bad --batch-size 2 --num-batches 0
run bad_skip $B --data-path probe/bad --batch-size 2 --num-batches 0 --skip-bad-images
run oom $B --synthetic --batch-size 300000 --num-batches 2
run sweep $B --data-path $D/varied --sweep --precision bf16 --batch-sizes 64,256 --executions eager,cuda-graphs
run prof alexnet/alexnet_profiler.py --data-path $D/varied --batch-sizes 1,7 --precision fp16
run ai alexnet/alexnet_ai.py --data-path probe/nasty --batch-sizes 3 --measure
stamp done
} >> $LOG 2>&1
