"""CUDA C++ kernels for Hopper's wgmma, built at run time and launched on PyTorch's stream.

NVRTC, the runtime compiler that ships with PyTorch's CUDA, builds a kernel on first use for the
GPU's architecture (sm_90a: wgmma runs on compute capability 9.0 only), once per element type
(ELEMENT_BF16 defined for bf16, else fp16). The driver API launches it on PyTorch's current stream,
so CUDA graphs capture it. Where a kernel cannot run, `CudaKernel.unavailable` says why, and the
layer that uses it takes its other form (rewrites.py).
"""

import ctypes
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

DEFINES = {torch.bfloat16: ["-DELEMENT_BF16"], torch.float16: []}
_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8  # CUfunction_attribute


def store_order(columns: int) -> torch.Tensor:
    """The output channel each MMA column n = 8j + 2q + e holds where the kernel permutes its weights'
    rows so that a thread's accumulator pairs j = 4k..4k + 3 are 8 contiguous channels (32k + 8q on):
    the 4 threads of a fragment row then store 64 contiguous bytes of a pixel per 16-byte store."""
    n = torch.arange(columns)
    return 32 * (n // 32) + 8 * (n % 8 // 2) + 2 * (n // 8 % 4) + n % 2


def swizzle_rows(pieces: torch.Tensor) -> torch.Tensor:
    """(..., rows, 8, 8): rows of 128 bytes in 16-byte pieces of 8 elements, with piece q of row r
    stored at q ^ r % 8, as wgmma's 128-byte swizzled operand descriptor reads them."""
    rows = torch.arange(pieces.shape[-3], device=pieces.device) % 8
    swizzle = torch.arange(8, device=pieces.device)[None, :] ^ rows[:, None]
    return torch.gather(pieces, -2, swizzle[:, :, None].expand_as(pieces)).contiguous()


def library():
    """NVRTC from the process's libraries or PyTorch's CUDA wheels; None where there is none."""
    names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]
    for site in sys.path:
        names += sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib", "libnvrtc.so.*")))
    for name in names:
        if "builtins" in name or ".alt." in name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def compile_cubin(source: Path, dtype: torch.dtype, arch: str = "sm_90a") -> bytes:
    """The kernels in `source` for fp16 or bf16, compiled by NVRTC; RuntimeError with NVRTC's log where it fails."""
    nvrtc = library()
    if nvrtc is None:
        raise RuntimeError("no NVRTC library (libnvrtc) found")
    program = ctypes.c_void_p()
    if nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.read_bytes(), source.name.encode(), 0, None, None):
        raise RuntimeError("NVRTC could not create a program")
    try:
        options = [f"--gpu-architecture={arch}".encode(), b"-std=c++17", f"--include-path={source.parent}".encode()]
        options += [o.encode() for o in DEFINES[dtype]]
        status = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
        if status:
            size = ctypes.c_size_t()
            nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            nvrtc.nvrtcGetProgramLog(program, log)
            raise RuntimeError(f"NVRTC failed ({status}): {log.value.decode(errors='replace').strip()}")
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetCUBIN(program, cubin)
        return cubin.raw
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def kernel_argument(value):
    """A launch argument as the kernel's parameter takes it: a tensor's address, a null pointer for
    None, a C int for an int."""
    if value is None:
        return ctypes.c_void_p(0)
    if isinstance(value, torch.Tensor):
        return ctypes.c_void_p(value.data_ptr())
    return ctypes.c_int(value)


def operands(kernel: str, reason: str, x: torch.Tensor, packed: torch.Tensor, bias, *, input_shape: tuple,
             packed_elements: int, out_channels: int):
    """x as channels_last and packed as contiguous, each from a 16-byte boundary (the kernels copy
    16-byte pieces of both), once `kernel` can run (`reason`, from unavailable(), is '') and these are
    its operands: x (n, *input_shape), packed of packed_elements, bias None or of out_channels, all of
    x's dtype. Otherwise a RuntimeError that names the kernel."""
    if reason:
        raise RuntimeError(f"{kernel} cannot run: {reason}")
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(input_shape) or packed.numel() != packed_elements:
        raise RuntimeError(f"{kernel}: input {tuple(x.shape)} or packed weights {tuple(packed.shape)} are not "
                           f"its layer's ((n, {', '.join(map(str, input_shape))}) and {packed_elements:,} elements)")
    if packed.dtype != x.dtype or (bias is not None and (bias.dtype != x.dtype or bias.numel() != out_channels)):
        raise RuntimeError(f"{kernel}: the weights and bias must be the input's dtype, {out_channels} output channels")
    x, packed = x.contiguous(memory_format=torch.channels_last), packed.contiguous()
    if x.data_ptr() % 16:
        x = x.clone(memory_format=torch.channels_last)
    if packed.data_ptr() % 16:
        packed = packed.clone()
    return x, packed


class Loaded:
    """A compiled kernel loaded on one device, launched through the driver API."""

    def __init__(self, cubin: bytes, name: str, threads: int, shared_bytes: int, device_index: int):
        self.name, self.threads, self.shared_bytes = name, threads, shared_bytes
        self._driver = ctypes.CDLL("libcuda.so.1")
        self._cubin = ctypes.create_string_buffer(cubin)      # the module keeps pointing into it
        self._module, self._function = ctypes.c_void_p(), ctypes.c_void_p()
        with torch.cuda.device(device_index):                 # the device's context is current
            self._check(self._driver.cuModuleLoadData(ctypes.byref(self._module), self._cubin))
        self._check(self._driver.cuModuleGetFunction(ctypes.byref(self._function), self._module, name.encode()))
        self._check(self._driver.cuFuncSetAttribute(self._function, _MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                    ctypes.c_int(shared_bytes)))
        self.programs = torch.cuda.get_device_properties(device_index).multi_processor_count

    def _check(self, status: int) -> None:
        if status:
            message = ctypes.c_char_p()
            self._driver.cuGetErrorString(status, ctypes.byref(message))
            raise RuntimeError(f"{self.name}: CUDA driver error {status} ({(message.value or b'').decode()})")

    def launch(self, grid: int, device: torch.device, arguments: list) -> None:
        """Launches `grid` programs on the device's current stream; a tensor argument passes its
        address, None a null pointer, an int a C int."""
        values = [kernel_argument(a) for a in arguments]
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        stream = ctypes.c_void_p(torch.cuda.current_stream(device).cuda_stream)
        self._check(self._driver.cuLaunchKernel(self._function, grid, 1, 1, self.threads, 1, 1,
                                                self.shared_bytes, stream, pointers, None))


@dataclass
class CudaKernel:
    """The kernel `name` in `source`, launched with `threads` threads and `shared_bytes` of dynamic
    shared memory per program, loaded once per device and element type."""
    source: Path
    name: str
    threads: int
    shared_bytes: int
    _loaded: dict = field(default_factory=dict)    # (device index, dtype) -> Loaded, or why it cannot run

    def _load(self, device_index: int, dtype: torch.dtype):
        if not hasattr(torch.library, "custom_op"):
            return f"torch {torch.__version__} has no torch.library.custom_op"
        if torch.version.hip:
            return "a ROCm build (wgmma is NVIDIA's)"
        capability = torch.cuda.get_device_capability(device_index)
        if capability != (9, 0):
            return f"needs compute capability 9.0 (wgmma), this GPU has {capability[0]}.{capability[1]}"
        try:
            return Loaded(compile_cubin(self.source, dtype), self.name, self.threads, self.shared_bytes, device_index)
        except (RuntimeError, OSError) as error:
            return str(error).splitlines()[0][:200]

    def unavailable(self, device_index: int, dtype: torch.dtype) -> str:
        """'' where the kernel runs on CUDA device `device_index` (-1: not CUDA) for dtype, else why not.
        The first call for a device and dtype compiles and loads the kernel (about a second)."""
        if device_index < 0:
            return "input not on CUDA"
        if dtype not in DEFINES:
            return f"input is {str(dtype).replace('torch.', '')}, not fp16/bf16"
        if (device_index, dtype) not in self._loaded:
            self._loaded[device_index, dtype] = self._load(device_index, dtype)
        loaded = self._loaded[device_index, dtype]
        return loaded if isinstance(loaded, str) else ""

    def on(self, device: torch.device, dtype: torch.dtype) -> Loaded:
        """The loaded kernel, once unavailable() has said ''."""
        return self._loaded[device.index, dtype]
