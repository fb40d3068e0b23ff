#!/bin/bash
# Acceptance at a2e9182, then the kernel-time probe on 2,048-file sets (made beside it at nice 19).
OUT=$1
export PYTHONUNBUFFERED=1
{ echo "tree: a2e9182"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; } > $OUT/call4_log.txt
D=/tmp/data
(nice -n 19 python3 benchmarks/make_jpegs.py $D/same --count 2048 --classes 16 > /dev/null 2>&1;
 nice -n 19 python3 benchmarks/make_jpegs.py $D/varied --count 2048 --classes 16 --varied > /dev/null 2>&1) &
python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc $?" >> $OUT/call4_log.txt
cp /tmp/acc/acceptance_log.txt $OUT/
wait
PYTHONPATH=$PWD python3 probe/kprof.py $D/same $D/varied > $OUT/call4_kprof.txt 2>&1
