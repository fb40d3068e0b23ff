#!/bin/bash
# Off the demo path on the GPU at the final product code (4ae148e's GPU code): conv1's pool row max and
# the GPU energy line on odd and partial batches, other models, a sweep, the profiler and the roofline
# with --rewrite, on a generated varied JPEG set (grey, CMYK, progressive, 30% other formats).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call3_log.txt
git log --oneline -1 > $LOG 2>/dev/null || echo "no git" > $LOG
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/varied --count 3000 --classes 30 --varied --other-share 0.3 > /dev/null 2>&1
stamp generated >> $LOG
run(){ NAME=$1; shift; stamp "$NAME: $*"
  timeout 100 python3 "$@" --weights none --output-dir /tmp/res/$NAME > /tmp/$NAME.txt 2>&1
  echo "rc=$?"; tr '\r' '\n' < /tmp/$NAME.txt | grep -a -E "^Throughput|^Total images|^Batch time|^GPU over|conv forms|form|rror|Traceback|^Report|skipped|out of memory|^\| " | head -24; }
B=alexnet/alexnet_benchmark.py
FAST="--channels-last --rewrite"
{
run b999_fast $B --data-path $D/varied --batch-size 999 --num-batches 0 --precision bf16 $FAST --compile --cuda-graphs
run b3_eager $B --synthetic --batch-size 3 --precision fp16 $FAST --num-batches 200
run b4095_graphs $B --synthetic --batch-size 4095 --precision fp16 $FAST --cuda-graphs --num-batches 120
run amp_compile $B --synthetic --batch-size 33 --precision bf16 --amp $FAST --compile --num-batches 100
run resnet18 $B --synthetic --model resnet18 --batch-size 5 --precision bf16 $FAST --compile --cuda-graphs --num-batches 100
run resnet50_data $B --model resnet50 --data-path $D/varied --batch-size 64 --num-batches 5 --precision fp16 $FAST
run sweep $B --synthetic --sweep --precision fp16,bf16 --executions eager,cuda-graphs --batch-sizes 2,33 $FAST
run prof alexnet/alexnet_profiler.py --data-path $D/varied --batch-sizes 2,9 --precision bf16 $FAST
run ai alexnet/alexnet_ai.py --dtype fp16 --batch-sizes 3,57 $FAST --measure
run energy_long $B --synthetic --batch-size 64 --precision fp16 --num-batches 4000
stamp done
} >> $LOG 2>&1
tar -czf $OUT/call3_runs.tgz -C /tmp res
