#!/bin/bash
# conv1's pairs form with its image tiles copied by TMA (interior pairs) plus the gather for the two
# edge pairs, against the shipped kernel; Nsight Compute on the TMA kernel (batch 4096).
OUT=$1
export PYTHONUNBUFFERED=1
NCU="/usr/local/cuda/bin/ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats --section WarpStateStats --metrics lts__t_requests_srcunit_tex_op_read.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active,lts__t_tag_requests.avg.pct_of_peak_sustained_elapsed"
{
echo "### conv_pairs by TMA, batch 4096"; date +%T
timeout 200 python3 benchmarks/investigations/conv_pairs_tma.py --batch-size 4096
echo "### conv_pairs by TMA, batch 4093 (a partial group of images)"; date +%T
timeout 100 python3 benchmarks/investigations/conv_pairs_tma.py --batch-size 4093 --only "shipped|tma 4 images w4 s3$"
echo "### ncu: tma 4 images w4 s3"; date +%T
timeout 120 $NCU --kernel-name regex:"_pairs_tma|_pairs_edges" --launch-count 2 \
    python3 benchmarks/investigations/conv_pairs_tma.py --batch-size 1024 --only "^tma 4 images w4 s3$" 2>&1 \
    | grep -v "^ *$" | grep -iv "^ *\(INF\|OPT\|WRN\) \|^          \|---\|Metric Name\|Cluster\|Barriers\|Block Limit SM\|Block Limit Warps\|Stack\|TPC\|Green\|Static\|Driver\|Threads \|Block Size\|# SMs\|Spilling\|Persisting\|Compression" | tail -90
date +%T
} > $OUT/call5_log.txt 2>&1
