#!/bin/bash
# call 3: the kernel as committed (the pooled rows stored in MMA steps 1 and 3: probe/a of call 2, written
# as one piece per call) against a4f8e54 (probe/old): the CUDA tests of conv1 and the rewrite, the layer
# alone at 4096 (bf16), Nsight Compute's full set on conv1_wgmma at 1024, and the product's command at
# 4096 (new, old, new, old).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
ALONE='
import sys, torch
from triton.testing import do_bench
from cnnbench import conv1_wgmma
F = torch.nn.functional
torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 64, 11, 4, 2).to("cuda", torch.bfloat16)
packed, bias = conv1_wgmma.pack_weights(conv.weight.detach()), conv.bias.detach()
if hasattr(conv1_wgmma, "conv1_pool_relu"):
    run = lambda x: conv1_wgmma.conv1_pool_relu(x, packed, bias).permute(0, 3, 1, 2)
else:
    column = torch.compile(lambda y: torch.relu(F.max_pool2d(y.permute(0, 3, 1, 2), (3, 1), (2, 1)) + bias.view(1, -1, 1, 1)))
    run = lambda x: column(conv1_wgmma.conv1_row_max(x, packed, None))
x = torch.randn(int(sys.argv[1]), 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
run(x)
if len(sys.argv) > 2:
    torch.cuda.synchronize(); run(x); torch.cuda.synchronize()      # the launch Nsight Compute reads
else:
    print("do_bench ms:", [round(do_bench(lambda: run(x), warmup=200, rep=1000), 4) for _ in range(3)])
'
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### pytest -m cuda -k 'conv1 or rewrite'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "conv1 or rewrite" tests/test_cuda.py 2>&1 | tail -4
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: conv1's layer alone, bf16 4096"; date +%T
  (cd $dir && timeout 60 python3 -c "$ALONE" 4096 2>&1 | grep -v WARNING | tail -3)
done
echo "### Nsight Compute, conv1_wgmma at 1024, bf16"; date +%T
timeout 150 /usr/local/cuda/bin/ncu --clock-control none -k regex:conv1_wgmma --launch-skip 1 --launch-count 1 \
    --set full -o /tmp/conv1 python3 -c "$ALONE" 1024 ncu 2>&1 | grep -v WARNING | tail -3
/usr/local/cuda/bin/ncu --import /tmp/conv1.ncu-rep --page details > $OUT/call3_ncu_details.txt 2>&1
grep -a "Duration\|Issue Slots Busy\|Executed Ipc\|Warp Cycles Per Issued\|Stall\|Throughput\|Registers\|Achieved" $OUT/call3_ncu_details.txt | head -40
for tree in new old new old; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|rror")
done
date +%T
} > $OUT/call3_log.txt 2>&1
rm -rf $OUT/runs
