#!/bin/bash
# call 4: the ring's odd windows with their halves swapped (this tree: two neighbouring windows' 16-byte
# stores on all 32 banks) against 3206b16 (probe/prev): conv1_wgmma's CUDA test (every schedule), the
# layer alone at 4096 (bf16, same bits?), and the product's command at 4096 (new, prev, new, prev).
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
ALONE='
import sys, torch
from triton.testing import do_bench
from cnnbench import conv1_wgmma
torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 64, 11, 4, 2).to("cuda", torch.bfloat16)
packed, bias = conv1_wgmma.pack_weights(conv.weight.detach()), conv.bias.detach()
run = lambda x: conv1_wgmma.conv1_pool_relu(x, packed, bias)
x = torch.randn(4096, 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
torch.save(run(x).cpu(), sys.argv[1])
print("do_bench ms:", [round(do_bench(lambda: run(x), warmup=200, rep=1000), 4) for _ in range(3)])
'
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
echo "### pytest -m cuda -k conv1_wgmma"; date +%T
timeout 100 python3 -m pytest -q -m cuda -k "conv1_wgmma" tests/test_cuda.py 2>&1 | tail -2
for tree in new prev new prev; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: conv1's layer alone, bf16 4096"; date +%T
  (cd $dir && timeout 60 python3 -c "$ALONE" /tmp/y_$tree.pt 2>&1 | grep -v WARNING | tail -2)
done
python3 -c "import torch; print('same bits as prev:', torch.equal(torch.load('/tmp/y_new.pt'), torch.load('/tmp/y_prev.pt')))"
for tree in new prev new prev; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|rror")
done
date +%T
} > $OUT/call4_log.txt 2>&1
rm -rf $OUT/runs
