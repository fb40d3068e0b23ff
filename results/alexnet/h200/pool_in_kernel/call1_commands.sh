#!/bin/bash
# call 1: conv1_wgmma with pool1's column part, bias and ReLU in the kernel (this tree) against a4f8e54
# (probe/old: the kernel stores row maxima, inductor runs the column part with the bias and ReLU): the
# CUDA tests of conv1 and the rewrite, the layer alone at several batches (kernel, or kernel then the
# compiled column pass), the product's command at 4096 (new, old, new, old, new), fp16, the plain loop,
# the compiled forward's kernel table and the eager profiler's layer table.
OUT=$1
export PYTHONUNBUFFERED=1
T="--channels-last --rewrite --compile default --cuda-graphs"
ALONE='
import torch
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
for batch in (4096, 32, 64, 136, 256, 1024, 4096):
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    y = run(x).float()
    reference = torch.relu(F.max_pool2d(F.conv2d(x.float(), conv.weight.float(), conv.bias.float(), 4, 2), 3, 2))
    difference = ((y - reference).abs().max() / reference.abs().max()).item()
    del reference
    print(f"batch {batch}: relative difference from fp32 {difference:.5f}; do_bench ms:",
          [round(do_bench(lambda: run(x), warmup=100, rep=500), 4) for _ in range(2)])
'
{
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)"
echo "### pytest -m cuda -k 'conv1 or rewrite'"; date +%T
timeout 200 python3 -m pytest -q -m cuda -k "conv1 or rewrite" tests/test_cuda.py 2>&1 | tail -15
for tree in new old; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree: conv1's layer alone, bf16"; date +%T
  (cd $dir && timeout 120 python3 -c "$ALONE" 2>&1 | grep -v WARNING | tail -8)
done
for tree in new old new old new; do
  dir=.; [ $tree = old ] && dir=probe/old
  echo "### $tree: the target command, bf16 4096"; date +%T
  (cd $dir && timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 $T \
      --num-batches 100 --weights none --output-dir $OUT/runs/$tree 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror")
done
echo "### new: the target command, fp16 4096"; date +%T
timeout 90 python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision fp16 $T \
    --num-batches 100 --weights none --output-dir $OUT/runs/fp16 2>&1 | grep -a "Throughput\|p50\|GPU over\|Rewrite\|rror"
echo "### plain loop, bf16 4096"; date +%T
timeout 60 python3 benchmarks/plain_loop.py --batch-size 4096 --precision bf16 $T --iterations 100
echo "### the compiled forward's kernels, bf16 4096"; date +%T
timeout 90 python3 benchmarks/investigations/kernel_table.py --batch-size 4096 --precision bf16 $T 2>&1 | grep -v WARNING | tail -30
echo "### the profiler's layer table, eager --rewrite, bf16 4096"; date +%T
timeout 90 python3 alexnet/alexnet_profiler.py --precision bf16 --channels-last --batch-sizes 4096 --rewrite \
    --weights none --output-dir $OUT/runs/profile 2>&1 | grep -av "^\s*$" | head -60
date +%T
} > $OUT/call1_log.txt 2>&1
tar -czf $OUT/call1_runs.tgz -C $OUT runs && rm -rf $OUT/runs
