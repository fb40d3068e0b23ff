#!/usr/bin/env python3
"""How Triton lowers conv_pairs' MMA, read from its TTGIR: no GPU needed.

Compiles the shipped kernel (kernels._conv_pairs_kernel, AlexNet's conv1 in bf16, the shipped
tiles and the pool's row max) for a GPU target (default sm_90, the H200's) with this machine's
Triton, and prints the operations that stage the image tile and run the MMA: where the tile lives
when the tensor cores read it (`local_alloc`: registers to shared memory) and how many MMAs stay in
flight across steps (`warp_group_dot_wait {pendings = N}`). The lowering depends on the Triton
version, so the output says which one compiled it.
Usage: python benchmarks/investigations/conv_pairs_ttgir.py [--arch 90] [--all]
"""

import argparse
import re
import sys
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench import kernels  # noqa: E402

MMA_OPS = re.compile(r"local_alloc %|warp_group_dot|ttng\.|tt\.dot |async_copy|tt\.descriptor_load")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=int, default=90, help="compute capability to compile for (default: 90)")
    parser.add_argument("--all", action="store_true", help="print the whole TTGIR")
    args = parser.parse_args()
    config = kernels.PAIR_CONFIG
    row, shift = kernels.pair_geometry(4, 11, 2, 3)
    signature = {"x_ptr": "*bf16", "w_desc": f"tensordesc<bf16[{config.kwargs['BLOCK_K']}, 128]>", "b_ptr": "*bf16",
                 "y_ptr": "*bf16", "rows": "i32", "out_height": "i32", "out_width": "i32", "pairs": "i32",
                 "height": "i32", "width": "i32", "pad_top": "i32"}
    constants = dict(STRIDE=4, CHANNELS=3, KERNEL_HEIGHT=11, ROW=row, START_SHIFT=shift, N_OUT=128, BLOCK_N=128,
                     HAS_BIAS=False, ALIGNED=True, ROW_MAX=1, **config.kwargs)
    signature.update(dict.fromkeys(constants, "constexpr"))
    compiled = triton.compile(ASTSource(kernels._conv_pairs_kernel, signature, constexprs=constants),
                              target=GPUTarget("cuda", args.arch, 32),
                              options=dict(num_warps=config.num_warps, num_stages=config.num_stages,
                                           maxnreg=config.maxnreg))
    ttgir = compiled.asm["ttgir"]
    print(f"Triton {triton.__version__}, sm_{args.arch}, {config}; shared memory {compiled.metadata.shared} bytes")
    for line in ttgir.splitlines():
        if args.all or MMA_OPS.search(line):
            print(re.sub(r" loc\(#loc\d*\)$", "", line.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
