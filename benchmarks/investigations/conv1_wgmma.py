#!/usr/bin/env python3
"""conv1 as an implicit GEMM on wgmma with its image operand in registers (conv1_wgmma.cu).

conv_pairs gathers its image tiles through the L1 (80% of its peak) and issues 48% more
multiply-adds than conv1 has (its pairs' zero taps); it takes 1.9 J per issued TFLOP against conv2's
1.18. conv1_wgmma.cu stages the input rows of a 128-pixel tile in shared memory once, loads each
thread's A fragments from there at any address (4-byte loads, no bank conflicts), keeps the weights
in shared memory for the whole persistent program, and issues 6% more multiply-adds than conv1 has.
The kernel is compiled at run time by NVRTC (the library that ships with PyTorch's CUDA) and launched
through the driver API.

Checks each form against cuDNN's convolution, then times it with do_bench and (--energy) reads
joules per call over graphed replays (layer_energy.per_call).
Usage: python benchmarks/investigations/conv1_wgmma.py [--batch-size 4096] [--variants DEPTH=2 ...] [--energy]
"""

import argparse
import ctypes
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnnbench import kernels  # noqa: E402
from cnnbench.nvrtc import library  # noqa: E402
from cnnbench import conv1_wgmma as product  # noqa: E402  (its weight layout, channels in order)
from cnnbench.rewrites import SpaceToDepthConv2d  # noqa: E402
from conv1_forms import GEOMETRY, USEFUL_FLOP_PER_IMAGE  # noqa: E402
from layer_energy import per_call  # noqa: E402

SOURCE = Path(__file__).with_suffix(".cu")


def pack_weights(weight: torch.Tensor) -> torch.Tensor:
    """The product's B layout with the channels in order: this kernel stores MMA column n as channel n."""
    return product.pack_weights(weight[torch.argsort(product.CHANNEL_ORDER).to(weight.device)])


def geometry(warpgroups: int) -> tuple:
    """(threads, tiles per image, dynamic shared bytes) of the kernel with `warpgroups` per program:
    the weights, two buffers of the input rows a tile reads, and slack to align the weights."""
    tile = 64 * warpgroups
    rows = 4 * ((tile - 2) // 55 + 1) + 11
    return 128 * warpgroups, -(-3025 // tile), 49152 + 2 * rows * 1376 + 1024

CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8


def compile_cubin(source: str, defines: dict, arch: str = "sm_90a") -> bytes:
    nvrtc = library()
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"conv1_wgmma.cu", 0, None, None) == 0
    options = [f"--gpu-architecture={arch}".encode(), b"-std=c++17"]
    options += [f"-D{key}={value}".encode() for key, value in defines.items()]
    array = (ctypes.c_char_p * len(options))(*options)
    status = nvrtc.nvrtcCompileProgram(program, len(options), array)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    if status != 0:
        raise RuntimeError(f"NVRTC failed ({status}):\n{log.value.decode()}")
    if log.value.strip():
        print("NVRTC:", log.value.decode(), flush=True)
    nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    assert nvrtc.nvrtcGetCUBIN(program, cubin) == 0
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return cubin.raw


class Kernel:
    def __init__(self, cubin: bytes, name: str, threads: int, shared_bytes: int):
        self.threads = threads
        self.cuda = ctypes.CDLL("libcuda.so.1")
        self.module, self.function = ctypes.c_void_p(), ctypes.c_void_p()
        self._cubin = ctypes.create_string_buffer(cubin)
        self._check(self.cuda.cuModuleLoadData(ctypes.byref(self.module), self._cubin))
        self._check(self.cuda.cuModuleGetFunction(ctypes.byref(self.function), self.module, name.encode()))
        self._check(self.cuda.cuFuncSetAttribute(self.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                 ctypes.c_int(shared_bytes)))
        self.shared_bytes = shared_bytes
        registers = ctypes.c_int()
        self.cuda.cuFuncGetAttribute(ctypes.byref(registers), 4, self.function)   # CU_FUNC_ATTRIBUTE_NUM_REGS
        self.registers = registers.value

    def _check(self, status):
        if status != 0:
            message = ctypes.c_char_p()
            self.cuda.cuGetErrorString(status, ctypes.byref(message))
            raise RuntimeError(f"CUDA driver error {status}: {message.value}")

    def __call__(self, grid: int, *args):
        values = [ctypes.c_void_p(a.data_ptr()) if isinstance(a, torch.Tensor) else a if isinstance(a, ctypes.c_void_p)
                  else ctypes.c_int(a) for a in args]
        params = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        self._check(self.cuda.cuLaunchKernel(self.function, grid, 1, 1, self.threads, 1, 1, self.shared_bytes, stream,
                                             params, None))


def conv1_wgmma(kernel: Kernel, grid: int, tiles_per_image: int, x, packed, bias):
    n = x.shape[0]
    y = torch.empty((n, 55, 55, 64), dtype=x.dtype, device=x.device)
    kernel(min(grid, n * tiles_per_image), x, packed, bias, y, n)
    return y


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--variants", nargs="*", default=[""],
                        help="the kernel's macros for each form timed, e.g. DEPTH=2,MIN_BLOCKS=1; LOADS=0 and STORES=0 "
                             "time the kernel without its fragment loads, its stores or its epilogue (wrong outputs)")
    parser.add_argument("--once", action="store_true", help="launch each wgmma form once, nothing else (for ncu)")
    parser.add_argument("--energy", action="store_true", help="also joules per call over graphed replays")
    parser.add_argument("--cubin-dir", type=Path, help="also write each compiled kernel here")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device("cuda")
    conv = torch.nn.Conv2d(3, 64, 11, 4, 2).to(device, torch.bfloat16)
    x = torch.randn(args.batch_size, 3, 224, 224, device=device, dtype=torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last)
    packed = pack_weights(conv.weight.data)
    bias = conv.bias.data.float()
    pair_weight = SpaceToDepthConv2d(conv).pair_weight.data
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    record = {"batch_size": args.batch_size, "device": torch.cuda.get_device_name(), "forms": {}}

    forms = {"shipped conv_pairs": lambda: kernels.conv_pairs(x, pair_weight, conv.bias.data, *GEOMETRY)}
    for variant in args.variants:
        defines = dict(item.split("=") for item in variant.split(",") if item)
        try:
            cubin = compile_cubin(SOURCE.read_text(), defines)
            if args.cubin_dir:
                args.cubin_dir.mkdir(parents=True, exist_ok=True)
                (args.cubin_dir / f"conv1_wgmma_{variant.replace(',', '_').replace('=', '')}.cubin").write_bytes(cubin)
            threads, tiles_per_image, shared_bytes = geometry(int(defines.get("WARPGROUPS", 2)))
            kernel = Kernel(cubin, "conv1_wgmma", threads, shared_bytes)
        except RuntimeError as error:
            print(f"wgmma {variant}: {error}", flush=True)
            continue
        name = f"wgmma {variant or 'as written'}"
        print(f"{name}: {kernel.registers} registers", flush=True)
        blocks = int(defines.get("MIN_BLOCKS", 2))
        forms[name] = lambda kernel=kernel, blocks=blocks, tiles=tiles_per_image: conv1_wgmma(
            kernel, blocks * sms, tiles, x, packed, bias)
    if args.once:      # one launch of each wgmma form, for a profiler
        for name, run in forms.items():
            if name.startswith("wgmma"):
                run()
        torch.cuda.synchronize()
        return

    with torch.inference_mode():
        reference = F.conv2d(x, conv.weight, conv.bias, stride=4, padding=2).permute(0, 2, 3, 1).float()
        scale = reference.abs().max().item()
        for name, run in forms.items():
            out = run().float()
            torch.cuda.synchronize()
            error = (out - reference).abs()
            entry = {"max_relative_diff_vs_cudnn": error.max().item() / scale}
            if "=0" in name:       # a timing-only form
                entry = {}
            elif entry["max_relative_diff_vs_cudnn"] > 0.02:     # wrong: say where
                entry["bad_fraction"] = (error > 0.02 * scale).float().mean().item()
                entry["max_error_by_channel_block"] = [round(error[..., 8 * j:8 * j + 8].max().item() / scale, 4)
                                                       for j in range(8)]
                entry["max_error_by_out_row"] = [round(v / scale, 3) for v in error.amax((0, 2, 3)).tolist()]
                entry["max_error_by_out_column"] = [round(v / scale, 3) for v in error.amax((0, 1, 3)).tolist()]
                entry["first_image_vs_last"] = [error[0].max().item() / scale, error[-1].max().item() / scale]
                record["forms"][name] = entry
                print(name, json.dumps(entry), flush=True)
                continue
            entry["ms_do_bench"] = do_bench(run, warmup=100, rep=500)
            entry["useful_tflop_per_s"] = USEFUL_FLOP_PER_IMAGE * args.batch_size / entry["ms_do_bench"] / 1e9
            if args.energy:
                entry.update(per_call(lambda _, run=run: run(), x, args.seconds))
            record["forms"][name] = entry
            print(name, json.dumps(entry), flush=True)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
