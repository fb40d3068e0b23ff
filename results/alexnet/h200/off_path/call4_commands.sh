#!/bin/bash
# At 5a54954: the two fixes on the GPU (out-of-memory hint, truncated JPEG), then every README command and each
# script's defaults (gpu_acceptance.py --skip-pytest), then the CUDA tests of the decode paths, as time allows.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call4_log.txt
echo "commit 5a54954 (working tree)" > $LOG
run(){ NAME=$1; shift; stamp "$NAME: $*"
  timeout 60 python3 "$@" --weights none --output-dir /tmp/res/$NAME > /tmp/$NAME.txt 2>&1
  echo "rc=$?"; tr '\r' '\n' < /tmp/$NAME.txt | grep -a -E "^Throughput|^Total images|^Decoding|rror|Traceback" | head -8; }
{
run oom alexnet/alexnet_benchmark.py --synthetic --batch-size 300000 --num-batches 2
run bad_skip alexnet/alexnet_benchmark.py --data-path probe/bad --batch-size 2 --num-batches 0 --skip-bad-images
stamp acceptance
timeout 200 python3 benchmarks/gpu_acceptance.py /tmp/acc --skip-pytest --images 1000 > /tmp/acc_stdout.txt 2>&1
echo "acceptance rc $?"; tail -12 /tmp/acc_stdout.txt
} >> $LOG 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log_5a54954.txt
{ stamp "pytest -m cuda (decode paths, end to end)"
timeout 75 python3 -m pytest -m cuda -q -p no:cacheprovider tests/test_cuda.py -k "gpu_decoders or prefetching or end_to_end or sampler" 2>&1 | tail -4
stamp done; } >> $LOG 2>&1
