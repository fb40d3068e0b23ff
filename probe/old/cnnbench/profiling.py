"""Per-layer profiling: each leaf module's device time, its kernels, output and activation size.

Every leaf module runs inside a profiler range ("layer:features.0", opened and closed by forward
hooks), so each kernel is attributed through the profiler's own correlation of kernels with the
CPU ops that launched them. A layer's device time is the summed duration of the kernels launched
inside its range (CPU time of the range on the CPU); kernels launched outside any leaf (functional
calls such as a layout copy) form the "other" row, so the rows add up to the profiled forward.
The same function gives the arithmetic-intensity script its measured layer times.
"""

import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.autograd.profiler_util import FunctionEventAvg
from torch.profiler import ProfilerActivity, profile, record_function, schedule

from .models import leaf_modules
from .rewrites import BiasReLU

FORWARD_RANGE = "forward"
LAYER_PREFIX = "layer:"

KINDS = (("conv", (nn.Conv1d, nn.Conv2d, nn.Conv3d)),
         ("linear", (nn.Linear,)),
         ("activation", (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.LeakyReLU,
                         BiasReLU)),
         ("pooling", (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)))


def layer_kind(module: nn.Module) -> str:
    for kind, types in KINDS:
        if isinstance(module, types):
            return kind
    if "Conv" in type(module).__name__:  # rewritten convolutions
        return "conv"
    return "other"


@dataclass
class LayerTime:
    name: str
    type: str
    kind: str
    time_us: float = 0.0                 # per forward: device time on GPU, CPU time on CPU
    share: float = 0.0                   # of the profiled forward
    output_shape: list = None
    activation_bytes: int = 0
    kernels: list = field(default_factory=list)   # [{name, calls, time_us}] per forward: device
                                                  # kernels on GPU, innermost ATen ops on CPU

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _cpu_ops_below(event) -> list:
    """(op name, self CPU time us) of every op under this event: the CPU's "kernels"."""
    found = []
    for child in event.cpu_children:
        found += [(child.name, child.self_cpu_time_total)] + _cpu_ops_below(child)
    return found


def _kernels_below(event) -> list:
    """(kernel name, duration us) of every kernel launched by this event or its descendants."""
    found = [(kernel.name, kernel.duration) for kernel in event.kernels]
    for child in event.cpu_children:
        found += _kernels_below(child)
    return found


class LayerRanges:
    """Forward hooks that open a range per leaf module, named LAYER_PREFIX + its name, and record its
    output. `scope(name)` makes the range: a profiler range, or an NVTX range for Nsight Compute."""

    def __init__(self, model: nn.Module, scope=record_function):
        self.leaves = leaf_modules(model)
        self.scope = scope
        self.outputs = {}
        self._open = {}
        self._handles = []
        for name, module in self.leaves:
            self._handles.append(module.register_forward_pre_hook(self._enter(name)))
            self._handles.append(module.register_forward_hook(self._exit(name)))

    def _enter(self, name):
        def hook(module, inputs):
            scope = self.scope(LAYER_PREFIX + name)
            scope.__enter__()
            self._open[name] = scope
        return hook

    def _exit(self, name):
        def hook(module, inputs, output):
            self._open.pop(name).__exit__(None, None, None)
            if isinstance(output, torch.Tensor):
                self.outputs[name] = (list(output.shape), output.numel() * output.element_size())
        return hook

    def remove(self):
        for handle in self._handles:
            handle.remove()


@dataclass
class LayerProfile:
    layers: list                 # LayerTime rows, in module order, then "other"
    forward_us: float            # profiled forward per step (device kernel sum on GPU, CPU time on CPU)
    steps: int
    time_basis: str
    profiler: object = None      # the torch.profiler.profile, for tables and the trace

    @property
    def sum_of_layers_us(self) -> float:
        return sum(layer.time_us for layer in self.layers)


def profile_layers(model: nn.Module, run, device: torch.device, active_steps: int = 5,
                   warmup_steps: int = 2, record_shapes: bool = True) -> LayerProfile:
    """Profile `run()` (a forward of `model` on a loaded batch) on a wait/warm-up/active schedule."""
    on_gpu = device.type == "cuda"
    if not torch.cuda.is_available():   # Kineto would report the missing GPU as an ERROR line on stderr
        os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    ranges = LayerRanges(model)
    # One active cycle is all we read, so the warning that later cycles would clear events is noise.
    warnings.filterwarnings("ignore", message=".*Profiler clears events at the end of each cycle.*")
    try:
        with torch.inference_mode(), profile(activities=activities, record_shapes=record_shapes,
                                             schedule=schedule(wait=1, warmup=warmup_steps, active=active_steps)) as prof:
            for _ in range(1 + warmup_steps + active_steps):
                with record_function(FORWARD_RANGE):
                    run()
                if on_gpu:
                    torch.cuda.synchronize(device)
                prof.step()
    finally:
        ranges.remove()

    per_layer = defaultdict(float)
    kernels = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    forward_total = 0.0
    for event in prof.events():
        if event.name == FORWARD_RANGE:
            forward_total += sum(d for _, d in _kernels_below(event)) if on_gpu else event.cpu_time_total
        elif event.name.startswith(LAYER_PREFIX):
            name = event.name[len(LAYER_PREFIX):]
            launched = _kernels_below(event) if on_gpu else _cpu_ops_below(event)
            per_layer[name] += sum(d for _, d in launched) if on_gpu else event.cpu_time_total
            for kernel_name, duration in launched:
                kernels[name][kernel_name][0] += 1
                kernels[name][kernel_name][1] += duration

    forward_us = forward_total / active_steps
    rows = []
    for name, module in ranges.leaves:
        shape, nbytes = ranges.outputs.get(name, (None, 0))
        row = LayerTime(name=name, type=type(module).__name__, kind=layer_kind(module),
                        time_us=per_layer[name] / active_steps, output_shape=shape, activation_bytes=nbytes)
        row.kernels = sorted(({"name": k, "calls": v[0] / active_steps, "time_us": v[1] / active_steps}
                              for k, v in kernels[name].items()), key=lambda k: -k["time_us"])
        rows.append(row)
    other = LayerTime(name="other", type="(outside any leaf module)", kind="other",
                      time_us=forward_us - sum(r.time_us for r in rows))
    rows.append(other)
    for row in rows:
        row.share = row.time_us / forward_us if forward_us else 0.0
    basis = "CUDA kernel time attributed per layer" if on_gpu else "CPU time of each layer's range"
    return LayerProfile(layers=rows, forward_us=forward_us, steps=active_steps, time_basis=basis, profiler=prof)


def operator_tables(prof, on_gpu: bool, row_limit: int = 25) -> tuple:
    """PyTorch's key_averages table sorted by device time, and the same grouped by input shape."""
    # torch renamed cuda_* to device_* in 2.4; ask for whichever this version has
    device_key = "self_device_time_total" if hasattr(FunctionEventAvg, "self_device_time_total") else "self_cuda_time_total"
    sort_by = device_key if on_gpu else "self_cpu_time_total"
    by_op = prof.key_averages().table(sort_by=sort_by, row_limit=row_limit)
    by_shape = prof.key_averages(group_by_input_shape=True).table(sort_by=sort_by, row_limit=row_limit)
    return by_op, by_shape
