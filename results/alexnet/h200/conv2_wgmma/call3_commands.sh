#!/bin/bash
# call 3: conv2_wgmma.cu with its weights in 5 buffers, one bulk copy per tap with full and empty barriers, and
# one CTA barrier per tile, not per tap (call 2: half of the warps' cycles waited at that barrier); run as call 2:
# the check, then both alone at 4096 in bf16 (do_bench, joules over graphed replays, two rounds), then Nsight
# Compute's full set on the kernel at 1024.
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### conv2_wgmma against cuDNN"; date +%T
timeout 240 python3 benchmarks/investigations/conv2_wgmma.py --batch-size 4096 2>&1 | grep -v WARNING
status=$?
echo "### Nsight Compute, conv2_wgmma at 1024, bf16"; date +%T
timeout 150 /usr/local/cuda/bin/ncu --clock-control none -k regex:conv2_wgmma --launch-count 1 --set full \
    -o /tmp/conv2 python3 benchmarks/investigations/conv2_wgmma.py --once --batch-size 1024 2>&1 | grep -v WARNING | tail -3
/usr/local/cuda/bin/ncu --import /tmp/conv2.ncu-rep --page details > $OUT/call3_ncu_details.txt 2>&1
grep -a "Duration\|Issue Slots Busy\|Executed Ipc\|Warp Cycles Per Issued\|Stall\|Throughput\|Registers\|Achieved\|Bank" $OUT/call3_ncu_details.txt | head -50
date +%T
} > $OUT/call3_log.txt 2>&1
