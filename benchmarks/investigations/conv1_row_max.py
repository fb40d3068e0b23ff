#!/usr/bin/env python3
"""conv1 with the row part of its max-pool in conv_pairs' epilogue, against conv1 and the whole pool.

The rewrite runs AlexNet's conv1 as kernels.conv_pairs, then (compiled) one inductor kernel for the
3x3, stride-2 max-pool, bias and ReLU. That pool reads conv1's whole output (4096 x 55 x 55 x 64 in
bf16, 1.59 GB) from memory: 501 us of 10,380 in the compiled model's kernel table at batch 4096
(conv1_persistent call 7). With the pool's row max in conv_pairs' epilogue, conv1 writes a tensor
half as wide and the pool's column part reads that. This times both stacks compiled (conv1, pool,
bias and ReLU, as the rewritten model runs them) and each conv1 kernel alone, and checks that the
two stacks agree bit for bit.
Usage: python benchmarks/investigations/conv1_row_max.py [--batch-size 4096]
"""

import json
import sys
from pathlib import Path

import torch
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402
from cnnbench.rewrites import BiasReLU, SpaceToDepthConv2d  # noqa: E402

from conv1_forms import GEOMETRY, get_args_parser  # noqa: E402


def main() -> int:
    args = get_args_parser(__doc__).parse_args()
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(3, 64, 11, 4, 2).cuda().to(torch.bfloat16)
    x = torch.randn(args.batch_size, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last)
    whole, pooling = SpaceToDepthConv2d(conv1), SpaceToDepthConv2d(conv1)
    assert pooling.take_relu_and_pool(torch.nn.MaxPool2d(3, 2))     # and the bias, after the pool
    bias_relu = BiasReLU(conv1.bias).cuda()
    whole.bias = None
    stacks = {"conv_pairs, then pool 3x3 + bias + ReLU":
              torch.compile(lambda x: bias_relu(torch.nn.functional.max_pool2d(whole(x), 3, 2))),
              "conv_pairs with the row max, then pool 3x1 + bias + ReLU":
              torch.compile(lambda x: pooling(x))}
    packed = whole.pair_weight.data
    kernels_alone = {"conv_pairs alone": lambda: kernels.conv_pairs(x, packed, None, *GEOMETRY),
                     "conv_pairs with the row max alone": lambda: kernels.conv_pairs(x, packed, None, *GEOMETRY,
                                                                                     row_max=True)}
    result = {"batch_size": args.batch_size, "device": torch.cuda.get_device_name(), "ms": {}}
    with torch.inference_mode():
        outputs = [stack(x) for stack in stacks.values()]
        result["stacks_bit_equal"] = torch.equal(*outputs)
        result["row_max_equals_pool_rows"] = torch.equal(
            kernels_alone["conv_pairs with the row max alone"]().permute(0, 3, 1, 2),
            torch.nn.functional.max_pool2d(kernels_alone["conv_pairs alone"]().permute(0, 3, 1, 2), (1, 3), (1, 2)))
        for name, run in {**stacks, **kernels_alone}.items():
            if name in stacks:
                result["ms"][name] = do_bench(lambda: run(x))
            else:
                result["ms"][name] = do_bench(run)
            print(name, result["ms"][name], flush=True)
    print(json.dumps(result, indent=1))
    return 0 if result["stacks_bit_equal"] and result["row_max_equals_pool_rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
