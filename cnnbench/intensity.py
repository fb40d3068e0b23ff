"""FLOP, bytes and arithmetic intensity of every leaf layer, and the machine's measured ceilings.

Shapes come from running the model (forward hooks on the meta device: real shapes, no arithmetic),
never from hand-tracked feature-map sizes. Conventions, as in the literature:
- FLOP counts 2 per multiply-add; a separate MACs column gives multiply-adds. Bias adds are
  counted as 1 FLOP per output element (FlopCounterMode leaves them out; `flop_no_bias` matches it).
- ReLU: 1 comparison per element. Max-pooling: kernel_area - 1 comparisons per output element.
  Average pooling: window_size FLOP per output (window - 1 adds and 1 divide).
- Dropout in eval and Flatten are views of their input: 0 FLOP and 0 bytes; so is the rewrite's
  adaptive pool to the size its input already has, which returns its input.
- The exact rewrites (rewrites.py) count the useful work: a space-to-depth convolution the
  multiply-adds of the convolution it replaces (not its zero taps), plus the comparisons of the
  max-pool that follows where it runs that pool too; a fused ReLU 1 comparison per output element,
  a bias + ReLU after a pool 2 FLOP per element. Their minimum bytes are their own (a fused ReLU
  reads and writes nothing more; a convolution that pools writes only the pooled output), so a
  rewrite's saving shows as fewer bytes.
- Minimum bytes: every input read once, weights and bias read once, the output written once.
  An in-place ReLU still reads and writes each element (2 x its size), though no new memory is used.
  Max-pooling's int64 indices, written by some backends, are not part of the minimum.
"""

import copy
import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from . import metrics
from .models import leaf_modules
from .rewrites import (BiasReLU, ConvReLU, LinearReLU, MaxPool2d, SkipIdentityAdaptiveAvgPool2d,
                       SpaceToDepthConv2d)
from .timing import time_calls

VIEW_LAYERS = (nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Identity)


@dataclass
class LayerCost:
    name: str
    type: str
    input_shape: list
    output_shape: list
    macs: int
    flop: int            # 2 * macs + bias adds + comparisons and pooling arithmetic
    flop_no_bias: int    # what torch.utils.flop_counter counts for conv and linear
    bytes: int

    @property
    def intensity(self) -> float:
        """FLOP per byte of minimum traffic (Williams, Waterman & Patterson, 'Roofline', CACM 2009)."""
        return metrics.arithmetic_intensity(self.flop, self.bytes)


def _adaptive_windows(size_in: int, size_out: int) -> int:
    """Sum of window lengths along one axis of adaptive pooling (PyTorch's start/end rule)."""
    return sum(math.ceil((i + 1) * size_in / size_out) - (i * size_in) // size_out for i in range(size_out))


def _max_pool_comparisons(outputs: int, kernel_size) -> int:
    """kernel_area - 1 comparisons per output element of a max-pool."""
    kernel = nn.modules.utils._pair(kernel_size)
    return outputs * (kernel[0] * kernel[1] - 1)


def layer_cost(name: str, module: nn.Module, inputs: torch.Tensor, output: torch.Tensor, element_size: int) -> LayerCost:
    n_in, n_out = inputs.numel(), output.numel()
    weights = sum(p.numel() for p in module.parameters(recurse=False))
    if isinstance(module, SpaceToDepthConv2d):   # counted as the convolution it replaces: one kernel
        weights = (module.out_channels * module.in_channels * math.prod(module.kernel_size)
                   + (0 if module.bias is None else module.bias.numel()))
    macs = elementwise_flop = bias_adds = 0
    traffic = n_in + weights + n_out
    if isinstance(module, nn.modules.conv._ConvNd):
        macs = n_out * module.weight[0].numel()   # each output: (Cin / groups) * kh * kw multiply-adds
        bias_adds = n_out if module.bias is not None else 0
        elementwise_flop = n_out if isinstance(module, ConvReLU) else 0
    elif isinstance(module, SpaceToDepthConv2d):
        conv_out = math.prod(module.conv_output_shape(inputs))
        macs = conv_out * module.in_channels * math.prod(module.kernel_size)
        bias_adds = conv_out if module.bias is not None else 0
        # the 3x3 pool it runs and the ReLU after it
        elementwise_flop = _max_pool_comparisons(n_out, 3) + n_out if module.pools else 0
    elif isinstance(module, nn.Linear):
        macs = n_out * module.in_features
        bias_adds = n_out if module.bias is not None else 0
        elementwise_flop = n_out if isinstance(module, LinearReLU) and module.relu else 0
    elif isinstance(module, (nn.ReLU, nn.ReLU6, nn.LeakyReLU)):
        elementwise_flop = n_out
    elif isinstance(module, BiasReLU):
        elementwise_flop = 2 * n_out
    elif isinstance(module, MaxPool2d):     # the rewrite's pool: the bias and ReLU moved after it too
        elementwise_flop = _max_pool_comparisons(n_out, module.kernel_size) + n_out * (
            (module.bias is not None) + module.relu)
    elif isinstance(module, nn.MaxPool2d):
        elementwise_flop = _max_pool_comparisons(n_out, module.kernel_size)
    elif isinstance(module, nn.AdaptiveAvgPool2d):
        (h_in, w_in), (h_out, w_out) = inputs.shape[-2:], output.shape[-2:]
        window_elements = _adaptive_windows(h_in, h_out) * _adaptive_windows(w_in, w_out)
        elementwise_flop = window_elements * (n_out // (h_out * w_out))
    elif isinstance(module, nn.AvgPool2d):
        kernel = nn.modules.utils._pair(module.kernel_size)
        elementwise_flop = n_out * kernel[0] * kernel[1]
    # the rewrite's identity pool; "output is inputs" alone would catch in-place ReLUs too
    skipped = isinstance(module, SkipIdentityAdaptiveAvgPool2d) and output is inputs
    if isinstance(module, VIEW_LAYERS) or skipped:
        macs = elementwise_flop = bias_adds = traffic = 0
    flop_no_bias = 2 * macs
    return LayerCost(name=name, type=type(module).__name__, input_shape=list(inputs.shape),
                     output_shape=list(output.shape), macs=macs, flop=flop_no_bias + bias_adds + elementwise_flop,
                     flop_no_bias=flop_no_bias, bytes=traffic * element_size)


def layer_costs(model: nn.Module, batch_size: int, dtype: torch.dtype, image_size: int = 224) -> list:
    """LayerCost for every leaf module, from one forward on the meta device (shapes only)."""
    meta_model = _to_meta(model, dtype)
    element_size = torch.empty((), dtype=dtype).element_size()
    costs, handles = [], []
    for name, module in leaf_modules(meta_model):
        def hook(module, inputs, output, name=name):
            costs.append(layer_cost(name, module, inputs[0], output, element_size))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            meta_model(torch.empty(batch_size, 3, image_size, image_size, device="meta", dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
    return costs


def _to_meta(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    clone = copy.deepcopy(model).to(dtype=dtype)
    return clone.to_empty(device="meta").eval()


@dataclass
class Ceilings:
    peak_flops: float        # FLOP/s for the dtype
    peak_bytes_per_s: float
    flops_source: str
    bandwidth_source: str

    @property
    def ridge(self) -> float:
        return metrics.ridge(self.peak_flops, self.peak_bytes_per_s)

    def roof(self, intensity: float) -> float:
        return metrics.roof(intensity, self.peak_flops, self.peak_bytes_per_s)


def measure_matmul_flops(device: torch.device, dtype: torch.dtype, size: int = None) -> tuple:
    """FLOP/s of a square matrix product in `dtype` (2*n^3 FLOP), median of timed repeats."""
    size = size or 8192
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    times = time_calls(lambda: torch.mm(a, b), device, iterations=10, warmup=3)
    return metrics.rate(2 * size ** 3, statistics.median(times) / 1e3), f"measured: {size}x{size} matmul in {dtype}"


CPU_CEILING_SECONDS = 0.5    # per candidate kernel: CPU rates vary run to run, so repeat and keep the best
# a 2048^3 product whose 512^3 probe says one run would take longer is measured at 512^3: bf16 on a
# CPU without bf16 instructions took 52 s per 2048^3 product on one machine, minutes per ceiling
CPU_SLOW_SECONDS = 2.0


def measure_cpu_flops(dtype: torch.dtype) -> tuple:
    """The CPU's compute ceiling in `dtype`: the best rate of a 2048^3 matrix product (512^3 where
    that would be too slow to repeat) and of an AlexNet-sized convolution (the path the conv layers
    take, which for bf16/fp16 can be far faster than the matrix product's), each repeated for
    CPU_CEILING_SECONDS on all torch threads."""
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(512, 512, generator=generator).to(dtype)
    torch.mm(probe, probe)      # the first product in a process also sets up the library
    tick = time.perf_counter()
    torch.mm(probe, probe)
    size = 2048 if (time.perf_counter() - tick) * (2048 // 512) ** 3 < CPU_SLOW_SECONDS else 512
    a, b = (torch.randn(size, size, generator=generator).to(dtype) for _ in range(2))
    conv = nn.Conv2d(64, 192, 5, padding=2).to(dtype).eval()
    images = torch.randn(8, 64, 27, 27, generator=generator).to(dtype)
    candidates = {f"{size}x{size} matmul in {dtype}": (lambda: torch.mm(a, b), 2 * size ** 3),
                  f"5x5 64->192 convolution at 27x27, batch 8, in {dtype}": (lambda: conv(images),
                                                                            2 * 8 * 192 * 27 * 27 * 64 * 25)}
    best = (0.0, "")
    with torch.inference_mode():
        for name, (run, flop) in candidates.items():
            run()
            rates, started = [], time.perf_counter()
            while time.perf_counter() - started < CPU_CEILING_SECONDS or len(rates) < 3:
                tick = time.perf_counter()
                run()
                rates.append(flop / (time.perf_counter() - tick))
            best = max(best, (max(rates), name))
    return best[0], f"measured: best of {best[1]} ({torch.get_num_threads()} threads)"


def measure_copy_bandwidth(device: torch.device, megabytes: int = None) -> tuple:
    """Bytes/s of a large device copy, counting bytes read plus bytes written."""
    megabytes = megabytes or (2048 if device.type == "cuda" else 512)
    src = torch.randn(megabytes * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    times = time_calls(lambda: dst.copy_(src), device, iterations=10, warmup=2)
    return (metrics.rate(2 * src.numel() * 4, statistics.median(times) / 1e3),
            f"measured: {megabytes} MiB copy (read + write)")


def l2_capacity_bytes(device: torch.device) -> int:
    """The GPU's L2 cache size in bytes (0 where the device does not say)."""
    return getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) if device.type == "cuda" else 0


L2_REPEATS_PER_REPLAY = 50


def _graph_rate(device: torch.device, step, bytes_per_step: int) -> float:
    """Bytes/s of `step` replayed L2_REPEATS_PER_REPLAY times in one CUDA graph (launches do not count)."""
    for _ in range(3):
        step()
    torch.cuda.synchronize(device)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(L2_REPEATS_PER_REPLAY):
            step()
    times = time_calls(graph.replay, device, iterations=20, warmup=3)
    return metrics.rate(bytes_per_step * L2_REPEATS_PER_REPLAY, statistics.median(times) / 1e3)


def measure_l2_bandwidth(device: torch.device) -> tuple:
    """Bytes/s through the L2: the better of a copy (read + write) and a sum (read) of tensors that
    together fill half the L2, so that they stay resident there."""
    capacity = l2_capacity_bytes(device)
    if not capacity:
        raise RuntimeError("the device reports no L2 size")
    src = torch.randn(capacity // 4 // 4, device=device)    # float32: source and destination, a quarter each
    dst = torch.empty_like(src)
    total = torch.empty((), device=device)
    size = src.numel() * 4
    rates = {f"{2 * size / 2**20:.0f} MiB copy (read + write)": _graph_rate(device, lambda: dst.copy_(src), 2 * size),
             f"sum of {size / 2**20:.0f} MiB (read)": _graph_rate(device, lambda: torch.sum(src, dim=0, out=total),
                                                                  size)}
    best = max(rates, key=rates.get)
    return rates[best], f"measured: best of a copy and a sum resident in the {capacity / 2**20:.0f} MiB L2: {best}"


def machine_ceilings(device: torch.device, dtype: torch.dtype, peak_tflops=None, peak_gbps=None) -> Ceilings:
    """Measured ceilings, unless given; never one GPU's datasheet number."""
    if peak_tflops:
        flops, flops_source = peak_tflops * 1e12, "given"
    else:
        flops, flops_source = measure_matmul_flops(device, dtype) if device.type == "cuda" else measure_cpu_flops(dtype)
    if peak_gbps:
        bandwidth, bandwidth_source = peak_gbps * 1e9, "given"
    else:
        bandwidth, bandwidth_source = measure_copy_bandwidth(device)
    return Ceilings(flops, bandwidth, flops_source, bandwidth_source)
