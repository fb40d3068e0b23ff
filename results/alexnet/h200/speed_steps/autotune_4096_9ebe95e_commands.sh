#!/bin/bash
# Batch 4096 bf16 exact: --compile default against max-autotune-no-cudagraphs (inductor's Triton conv and GEMM
# templates benchmarked against cuDNN/cuBLAS), both with the rewrite and CUDA graphs; 9ebe95e's product code.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/autotune_log.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $LOG
run(){ MODE=$1; LIMIT=$2; stamp "compile $MODE" >> $LOG
  timeout $LIMIT python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last \
    --rewrite --compile $MODE --cuda-graphs --num-batches 100 --weights none --quiet --output-dir /tmp/res/$MODE 2>&1 \
    | tr '\r' '\n' | grep -a -E "^Throughput|^Batch time|[Cc]ompil|[Rr]ewrite|rror" >> $LOG
  echo "rc ${PIPESTATUS[0]}" >> $LOG; }
run default 80
run max-autotune-no-cudagraphs 185
stamp done >> $LOG
cd /tmp/res 2>/dev/null && tar czf $OUT/autotune_runs.tar.gz */*.json
