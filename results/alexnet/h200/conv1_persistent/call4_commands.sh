#!/bin/bash
# conv_pairs with its image tiles through the L1 and its registers capped (3 programs per multiprocessor),
# and in K steps of 64, against the shipped kernel; Nsight Compute on two forms (batch 4096).
OUT=$1
export PYTHONUNBUFFERED=1
NCU="/usr/local/cuda/bin/ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats --section WarpStateStats --metrics l1tex__t_sector_hit_rate.pct,lts__t_requests_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active,lts__t_tag_requests.avg.pct_of_peak_sustained_elapsed"
{
echo "### conv_pairs through the L1, batch 4096"; date +%T
timeout 200 python3 benchmarks/investigations/conv_pairs_l1.py --batch-size 4096 --only "shipped|maxnreg 168"
for form in "copy s3 image prefetched by ld.global weights TMA carveout 44 maxnreg 168" "copy s2 image prefetched by ld.global weights TMA carveout 44 maxnreg 168"; do
  echo "### ncu: $form"; date +%T
  timeout 120 $NCU --kernel-name _pairs_cached --launch-skip 1 --launch-count 1 \
      python3 benchmarks/investigations/conv_pairs_l1.py --batch-size 1024 --only "^$form\$" 2>&1 \
      | grep -v "^ *$" | grep -iv "^ *\(INF\|OPT\|WRN\) \|^          " | tail -75
done
date +%T
} > $OUT/call4_log.txt 2>&1
