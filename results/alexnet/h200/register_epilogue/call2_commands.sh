#!/bin/bash
# call 2: conv1_wgmma in 23 K steps (b521da3) against 1427dd2 (probe/mid: 24 steps, the register
# epilogue) and f76806c (probe/old): the CUDA tests, the kernel alone at 4096 in bf16 in the three trees,
# the product's command at 4096 (new, old, new), the plain loop, and the compiled forward's kernel table.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
ALONE='
import sys, torch
from triton.testing import do_bench
from cnnbench import conv1_wgmma
torch.manual_seed(0)
x = torch.randn(4096, 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
conv = torch.nn.Conv2d(3, 64, 11, 4, 2).to("cuda", torch.bfloat16)
packed, bias = conv1_wgmma.pack_weights(conv.weight.detach()), conv.bias.detach()
y = conv1_wgmma.conv1_row_max(x, packed, bias)
reference = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(x, conv.weight, conv.bias, 4, 2), (1, 3), (1, 2))
reference = reference.permute(0, 2, 3, 1).float()
print("largest difference from cuDNN, of its largest value:", ((y.float() - reference).abs().max() / reference.abs().max()).item())
torch.save(y.cpu(), sys.argv[1])
for _ in range(3):
    print("conv1_row_max alone, do_bench ms:", do_bench(lambda: conv1_wgmma.conv1_row_max(x, packed, bias), warmup=200, rep=1000))
'
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### pytest -m cuda -k 'conv1 or rewrite'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "conv1 or rewrite" tests/test_cuda.py 2>&1 | tail -15
for tree in new mid old new; do
  dir=.; [ $tree != new ] && dir=probe/$tree
  echo "### $tree: conv1_row_max alone, bf16 4096"; date +%T
  (cd $dir && timeout 60 python3 -c "$ALONE" /tmp/y_$tree.pt 2>&1 | tail -4)
done
python3 -c "import torch; print('same bits, mid and old:', torch.equal(torch.load('/tmp/y_mid.pt'), torch.load('/tmp/y_old.pt')))"
for tree in new old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror")
done
echo "### plain loop, bf16 4096"; date +%T
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100
echo "### the compiled forward's kernels, bf16 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T 2>&1 | grep -v WARNING | tail -40
date +%T
} > $OUT/call2_log.txt 2>&1
tar -czf $OUT/call2_runs.tgz -C $OUT runs && rm -rf $OUT/runs
