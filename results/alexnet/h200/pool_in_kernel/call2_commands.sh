#!/bin/bash
# call 2: where conv1_wgmma's pooled rows are stored from the ring, against caa0eb7 (this tree: after the
# barrier that opens a tile, before its MMAs): probe/a in the MMA loop (steps 1 and 3, 24 bytes of
# spills), probe/c after the first fragment loads, probe/d not at all (wrong output: the cost of the
# stores), probe/old = a4f8e54 (row maxima, then inductor's column pass). The layer alone at 4096
# (bf16), then the product's command at 4096 for this tree, a and c, twice each.
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
x = torch.randn(4096, 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
y = run(x)
torch.save(y.cpu(), sys.argv[1])
print("do_bench ms:", [round(do_bench(lambda: run(x), warmup=200, rep=1000), 4) for _ in range(3)])
'
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
for tree in new a c d old new a c; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: conv1's layer alone, bf16 4096"; date +%T
  (cd $dir && timeout 60 python3 -c "$ALONE" /tmp/y_$tree.pt 2>&1 | grep -v WARNING | tail -3)
done
python3 -c "
import torch
new = torch.load('/tmp/y_new.pt')
for tree in 'a', 'c', 'd':
    print(tree, 'same bits as this tree:', torch.equal(torch.load(f'/tmp/y_{tree}.pt'), new))"
for tree in new a c new a c; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|rror")
done
date +%T
} > $OUT/call2_log.txt 2>&1
rm -rf $OUT/runs
