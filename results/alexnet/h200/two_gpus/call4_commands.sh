#!/bin/bash
# e99f21c + the warm-up fix (a device without an index is the current one): the CUDA tests that failed at
# e99f21c, the decode-path tests, then the README commands and defaults (acceptance without pytest).
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call4_log.txt
{ echo "HEAD (working tree): $HEAD_COMMIT"; nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader; nproc
stamp "pytest -m cuda (loader, end to end, decoders)"
timeout 80 python3 -m pytest -m cuda -q -p no:cacheprovider tests/test_cuda.py -k "prefetching or end_to_end or gpu_decoders or their_tensors" 2>&1 | tail -4
stamp acceptance; } >> $LOG 2>&1
timeout 185 python3 benchmarks/gpu_acceptance.py /tmp/acc --skip-pytest --images 1000 > /tmp/acc_stdout.txt 2>&1
{ echo "acceptance rc $?"; tail -12 /tmp/acc_stdout.txt; stamp done; } >> $LOG 2>&1
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log.txt
