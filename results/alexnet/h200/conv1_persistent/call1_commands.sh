#!/bin/bash
# Where conv_pairs loses its time: persistent and TMA-weight forms against the shipped kernel, and
# Nsight Compute's full set on the shipped kernel and one persistent form (batch 4096, bf16).
OUT=$1
export PYTHONUNBUFFERED=1
{
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### conv_pairs persistent forms, batch 4096"; date +%T
timeout 200 python3 benchmarks/investigations/conv_pairs_persistent.py --batch-size 4096
for pick in "_conv_pairs_kernel|shipped 128x32 w4 s4" "_pairs_persistent|persistent 2/SM 128x32 w4 s4 TMA weights flat"; do
  kernel=${pick%%|*}; form=${pick#*|}
  echo "### ncu --set full: $form"; date +%T
  tag=$(echo "$form" | tr ' /' '__')
  timeout 150 /usr/local/cuda/bin/ncu --clock-control none --set full --kernel-name $kernel --launch-count 1 \
      -o /tmp/$tag python3 benchmarks/investigations/conv_pairs_persistent.py --batch-size 1024 --only "^$form\$" > /tmp/$tag.txt 2>&1
  tail -3 /tmp/$tag.txt
  /usr/local/cuda/bin/ncu --import /tmp/$tag.ncu-rep --page details > $OUT/ncu_details_$tag.txt 2>&1
  /usr/local/cuda/bin/ncu --import /tmp/$tag.ncu-rep --page raw --csv > $OUT/ncu_raw_$tag.csv 2>&1
  grep -i "stall\|Occupancy\|Throughput\|Tensor\|Registers\|Shared Memory Config" $OUT/ncu_details_$tag.txt | head -60
done
date +%T
} > $OUT/call1_log.txt 2>&1
