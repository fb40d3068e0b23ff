"""Device choice, synchronization and the facts about the machine that every result records."""

import contextlib
import ctypes
import os
import platform
import subprocess
import threading
import time

import torch
import torchvision

from . import metrics
from .errors import UserError


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, else mps, else cpu; a named device that is not there is an error. A CUDA
    device gets its index (the current device's when none is named) and becomes the process's current one."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        else:
            return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device '{name}' (expected auto, cuda, cuda:N, mps or cpu)")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device cuda: no CUDA GPU is visible to PyTorch here (the CPU is: cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device {name}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device mps: MPS is not available here (the CPU is: cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"unsupported device '{name}' (expected auto, cuda, cuda:N, mps or cpu)")
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
        torch.cuda.set_device(device)   # what uses the current device (Triton, pinned buffers) then uses this one
    return device


def on_device(device: torch.device):
    """A block in which `device` is the current CUDA device: Triton launches its kernels on the current
    device, whatever device their tensors are on."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def hopper_or_later(device: torch.device) -> bool:
    """A CUDA device of compute capability 9 or newer: programmatic dependent launches run there."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 9


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device):
    """Peak memory PyTorch's allocator handed out since the last reset; None off CUDA."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return None


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    # The CPU and MPS allocators raise plain RuntimeErrors.
    message = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in message or "can't allocate memory" in message)


NVML_READ_EVERY_S = 0.1


class _Utilization(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]    # NVML's nvmlUtilization_t


def _nvml_handle(device: torch.device):
    """(NVML library, device handle) for a CUDA device, found by its UUID, else by its PCI address;
    (None, None) where NVML, the NVIDIA driver's management library, is missing or does not know it."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None, None
    if nvml.nvmlInit_v2() != 0:
        return None, None
    props, handle = torch.cuda.get_device_properties(device), ctypes.c_void_p()
    uuid = getattr(props, "uuid", None)
    if uuid is not None and nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}".encode(), ctypes.byref(handle)) == 0:
        return nvml, handle
    address = f"{props.pci_domain_id:08x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"
    if nvml.nvmlDeviceGetHandleByPciBusId_v2(address.encode(), ctypes.byref(handle)) == 0:
        return nvml, handle
    return None, None


def _core_times() -> dict:
    """{core: (busy, total)} in clock ticks since boot, for the cores this process may run on, from
    Linux's /proc/stat (busy: all but idle and waiting for I/O); {} where there is no such file."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    times = {}
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                name, *fields = line.split()
                if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cores:
                    ticks = [int(value) for value in fields[:8]]   # user nice system idle iowait irq softirq steal
                    times[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    except OSError:
        return {}
    return times


def busy_percent(before: dict, after: dict):
    """The share of the cores' time that was busy between two _core_times(); None without them."""
    busy = sum(after[core][0] - before[core][0] for core in after if core in before)
    total = sum(after[core][1] - before[core][1] for core in after if core in before)
    return round(100 * busy / total, 1) if total else None


# NVML's clock event reasons that hold the SM clock below what the load asks for (nvmlClocksEventReason*)
CLOCK_LIMITS = {0x4: "power cap", 0x8: "hardware slowdown", 0x20: "software thermal limit",
                0x40: "hardware thermal limit", 0x80: "power brake"}
NVML_CLOCK_SM = 1
# The energy counter steps every few milliseconds and lags the load by some: over a shorter
# stretch than this its difference misleads (a batch-1 pass of 0.15 s read 210 W in one run, 394 W in the next)
MIN_ENERGY_WINDOW_S = 1.0


class BusySampler:
    """How busy the machine was over a stretch of a run, and what the GPU drew and ran at.

    The cores this process may use: any process's work on them, from /proc/stat at both ends. On
    CUDA, from NVML, the NVIDIA driver's management library: the GPU's energy counter at both ends,
    its enforced power limit, and, read in a background thread every NVML_READ_EVERY_S, the share of
    time a kernel was running (any process's kernel: with several processes they take turns), the
    share its JPEG decoders (the engines nvJPEG and nvImageCodec use) were busy, the SM clock, and
    which limits (CLOCK_LIMITS) held the clock down. A GPU at its power limit runs at the clock its
    power allows, so there a step pays by the energy it saves as well as by the time.

    Each NVML utilization reading is its average over its own sampling period (a fraction of a
    second), so the first reaches a little before the stretch. summary() gives None for a figure
    this machine does not report (the GPU's off CUDA, without NVML or on a GPU without JPEG
    decoders or an energy counter; the cores' off Linux).
    """

    def __init__(self, device: torch.device):
        self._nvml, self._handle = _nvml_handle(device) if device.type == "cuda" else (None, None)
        self._jpeg = getattr(self._nvml, "nvmlDeviceGetJpgUtilization", None)    # drivers from 2022 on
        self._limits = (getattr(self._nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)    # drivers from 2023 on
                        or getattr(self._nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None))
        self._readings, self._stop, self._thread = [], threading.Event(), None
        self._cores_before = self._cores_after = {}
        self._energy_mj, self._elapsed_s = [], None

    def __enter__(self) -> "BusySampler":
        self._cores_before = _core_times()
        if self._handle is not None:
            self._energy_mj.append(self._energy())
            self._thread = threading.Thread(target=self._read_until_stopped, name="busy-sampler", daemon=True)
            self._thread.start()
        self._elapsed_s = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._elapsed_s = time.perf_counter() - self._elapsed_s
        self._cores_after = _core_times()
        if self._thread is not None:
            self._energy_mj.append(self._energy())
            self._stop.set()
            self._thread.join()

    def _read_until_stopped(self) -> None:
        while True:
            self._readings.append(self._read())
            if self._stop.wait(NVML_READ_EVERY_S):
                return

    def _nvml_value(self, function, *arguments, kind=ctypes.c_uint):
        """function(handle, *arguments, &value)'s value, None where it is missing or fails."""
        value = kind()
        if function is None or function(self._handle, *arguments, ctypes.byref(value)) != 0:
            return None
        return value.value

    def _energy(self):
        """The GPU's energy counter, millijoules since the driver loaded (Volta and later), or None."""
        return self._nvml_value(self._nvml.nvmlDeviceGetTotalEnergyConsumption, kind=ctypes.c_ulonglong)

    def _read(self) -> tuple:
        """(kernel busy %, JPEG decoders busy %, SM clock MHz, clock event reasons), each None where not reported."""
        rates, jpeg, period = _Utilization(), ctypes.c_uint(), ctypes.c_uint()
        kernel = rates.gpu if self._nvml.nvmlDeviceGetUtilizationRates(self._handle, ctypes.byref(rates)) == 0 else None
        reported = self._jpeg is not None and self._jpeg(self._handle, ctypes.byref(jpeg), ctypes.byref(period)) == 0
        jpeg = jpeg.value if reported else None
        clock = self._nvml_value(self._nvml.nvmlDeviceGetClockInfo, NVML_CLOCK_SM)
        reasons = self._nvml_value(self._limits, kind=ctypes.c_ulonglong)
        return kernel, jpeg, clock, reasons

    FIELDS = ("cpu_busy_percent", "cpu_cores", "gpu_kernel_busy_percent", "jpeg_decoder_busy_percent",
              "nvml_readings", "sampled_s", "gpu_energy_j", "gpu_power_w", "gpu_power_limit_w", "gpu_sm_clock_mhz",
              "gpu_sm_clock_max_mhz", "gpu_clock_limits_percent")

    def summary(self) -> dict:
        """FIELDS: the cores' busy share; NVML's mean percentages over its readings and how many there
        were; how long the stretch was; the GPU's energy over it (a stretch of MIN_ENERGY_WINDOW_S or
        more) and its mean power (metrics.rate); its power limit; its mean and maximum SM clock; and
        for each limit that held the clock down, the share of readings in which it did."""
        def mean(values):
            values = [value for value in values if value is not None]
            return round(sum(values) / len(values), 1) if values else None
        kernel, jpeg, clock, reasons = zip(*self._readings) if self._readings else ((),) * 4
        energy_j = (None if len(self._energy_mj) < 2 or None in self._energy_mj or self._elapsed_s < MIN_ENERGY_WINDOW_S
                    else (self._energy_mj[1] - self._energy_mj[0]) / 1e3)
        on_gpu = self._handle is not None
        limit_mw = self._nvml_value(self._nvml.nvmlDeviceGetEnforcedPowerLimit) if on_gpu else None
        reported = [value for value in reasons if value is not None]
        limits = ({name: round(100 * sum(bool(value & bit) for value in reported) / len(reported), 1)
                   for bit, name in CLOCK_LIMITS.items() if any(value & bit for value in reported)}
                  if reported else None)
        return dict(zip(self.FIELDS, (
            busy_percent(self._cores_before, self._cores_after), len(self._cores_after) or None,
            mean(kernel), mean(jpeg), len(self._readings), self._elapsed_s,
            energy_j, metrics.rate(energy_j, self._elapsed_s) if energy_j is not None else None,
            limit_mw / 1e3 if limit_mw else None, mean(clock),
            self._nvml_value(self._nvml.nvmlDeviceGetMaxClockInfo, NVML_CLOCK_SM) if on_gpu else None, limits)))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver():
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else None


def math_mode() -> dict:
    """The float32 math mode actually in force (TF32 changes results and speed)."""
    return {
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }


def environment(device: torch.device) -> dict:
    """Versions and hardware, so a result file explains where its numbers came from."""
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        **math_mode(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update({
            "gpu": props.name,
            "gpu_capability": f"{props.major}.{props.minor}",
            "gpu_memory_gib": round(props.total_memory / 2**30, 2),
            "gpu_multiprocessors": props.multi_processor_count,
            "gpu_count": torch.cuda.device_count(),
            "nvidia_driver": _nvidia_driver(),
        })
    return env


def describe_devices() -> str:
    """The original profiler's device diagnostics, as text."""
    lines = [f"PyTorch version: {torch.__version__}", f"torchvision version: {torchvision.__version__}",
             f"CUDA available: {torch.cuda.is_available()}"]
    if torch.cuda.is_available():
        lines.append(f"Number of CUDA devices: {torch.cuda.device_count()}")
        lines.append(f"CUDA runtime: {torch.version.cuda}, cuDNN: {torch.backends.cudnn.version()}")
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            lines += ["", f"CUDA Device {index}:", f"  Name: {props.name}",
                      f"  Capability: ({props.major}, {props.minor})",
                      f"  Total memory: {props.total_memory / 2**30:.2f} GB",
                      f"  Multiprocessors: {props.multi_processor_count}"]
    mps = getattr(torch.backends, "mps", None)
    lines.append(f"MPS available: {bool(mps and mps.is_available())}")
    lines.append(f"CPU: {_cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)")
    return "\n".join(lines)
