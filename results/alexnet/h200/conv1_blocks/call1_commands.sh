#!/bin/bash
# The blocks form of conv1 (benchmarks/investigations/conv_blocks.py) against the shipped conv_pairs
# at batch 4096, then Nsight Compute on one launch of each at batch 1024.
OUT=$1
export PYTHONUNBUFFERED=1
cd benchmarks/investigations
{
echo "### forms, batch 4096"; date +%T
timeout 300 python3 conv_blocks.py --batch-size 4096
date +%T
M=gpu__time_duration.sum,l1tex__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_requests_srcunit_tex.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,launch__occupancy_limit_registers,lts__t_sectors.sum
for kernel in _conv_pairs_kernel _conv_blocks_kernel; do
  echo "### ncu $kernel, batch 1024"
  timeout 150 /usr/local/cuda/bin/ncu --clock-control none -k regex:$kernel --launch-count 1 --metrics $M \
      python3 conv_blocks.py --batch-size 1024 --only "shipped|blocks 128x16 w8 s3" 2>&1 | grep -v "^==PROF==" | tail -16
done
date +%T
} > $OUT/call1_log.txt 2>&1
