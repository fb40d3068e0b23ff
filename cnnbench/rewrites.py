"""Exact rewrites: layers run in mathematically equivalent forms that the hardware runs better.

Each rewrite is exact:
- Space-to-depth for strided convolutions over few input channels (below).
- Bias and ReLU after max-pooling instead of before: max commutes with any non-decreasing
  function, and adding a per-channel constant is one (rounding included), so
  maxpool(relu(conv(x) + b)) == relu(maxpool(conv(x)) + b) bit for bit on a given conv output
  (a backend that adds the bias inside its accumulator rounds once less). The convolution then
  writes its output once, without a separate pass to add the bias (PyTorch adds it apart from
  cuDNN's kernel), and the bias and ReLU touch a quarter of the elements, after the pool.
- Where no convolution feeds it, a ReLU before a max-pool still moves after it.
- A ReLU right after a convolution (no pool between) runs inside cuDNN's fused convolution, bias
  and activation kernel in half precision on CUDA: the sum, bias and ReLU in fp32 registers, one
  rounding, one write, instead of the convolution's write and a second pass that reads it back.
- A ReLU right after a linear layer, and the bias, go into the linear layer; at batch 1 in
  fp16/bf16 on CUDA the layer is one pass over its weights in a Triton kernel (kernels.py)
  instead of cuBLAS's split-K GEMM, its reduction and a ReLU kernel.
- Adaptive average pooling to the size its input already has is the identity (AlexNet's 6x6 ->
  6x6 at 224 pixels): it is skipped for such inputs instead of copying the tensor.

A strided convolution over few input channels (AlexNet's conv1: 3 channels, 11x11, stride 4)
keeps tensor cores mostly idle: its reduction is only 3*11*11 wide and it reads its input with a
large stride. Space-to-depth turns it into a stride-1 convolution over s*s times the channels on
a 1/s-sized image: pad, pixel_unshuffle by the stride s, and convolve with the kernel zero-padded
to a multiple of s and regrouped. Every output element sums the same products as before (the
extra kernel taps multiply zeros), so the result is the same up to rounding order.

Where the Triton kernels run (fp16/bf16 channels_last input on CUDA) and the batch holds two
images or more, one kernel (kernels.conv_pairs) computes the convolution straight from the image,
two neighbouring output pixels per GEMM row (twice the output channels wide), over the span of
each input row that both windows cover; its output is the channels_last output image. Where a
3x3, stride-2 max-pool follows (AlexNet's pool1), the layer runs it too (take_relu_and_pool), with
the bias and ReLU after it: the kernel stores each row's max over the pool's windows, half as wide,
and a (3, 1) max-pool over rows, with the bias and ReLU, finishes it, so the full-size output is
never written. Max is exact, so the bits are the pool's. On a GPU of compute capability 9.0
(Hopper), AlexNet's conv1 with its bias, pool and ReLU runs instead as one CUDA C++ kernel on wgmma
(conv1_wgmma.py) that copies each tile's image rows into shared memory once and writes the pooled
output; where it cannot run, the run-time check records why, and the pairs form runs. AlexNet's conv2
runs there as one such kernel too (WgmmaConv2d, conv2_wgmma.py), 64 pixels by all 192 output channels
per MMA where cuDNN's tile takes 64 channels, from 16 images on; else cuDNN's.

On fp16/bf16 channels_last CUDA input, each max-pool (and that column part) runs with the bias and
ReLU moved after it as one Triton kernel (kernels.max_pool), eager and compiled. On an H200 at batch
4096, PyTorch's NHWC max-pool moved 0.4-0.7 TB/s on AlexNet's pools, and in the compiled forward
inductor's fused pool, bias and ReLU kernels took 629 us for pool2 and pool5 (with the classifier's
flatten), the Triton kernel 456 us plus 80 for the flatten's copy. The last pool before a
torchvision classifier's flatten (AlexNet, VGG) writes NCHW order, so the flatten is a view. A
compiled forward of a single image keeps inductor's pools (kernels.max_pool says why).
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import conv1_wgmma, conv2_wgmma, kernels
from .errors import UserError

# Rewrite only where the input has few channels: there the reduction is too narrow for tensor cores.
MAX_INPUT_CHANNELS = 4
# Asked once: a call inside forward would break torch.compile's graph there.
_CUDNN = torch.backends.cudnn.is_available()
# Largest allowed max|rewritten - reference| / max|reference| per precision.
TOLERANCE = {"fp32": 1e-4, "tf32": 1e-2, "fp16": 1e-2, "bf16": 5e-2}


def space_to_depth(x: torch.Tensor, s: int) -> torch.Tensor:
    """pixel_unshuffle(x, s) in its channel order (c*s*s + i*s + j), written in one copy straight into
    the channels-last layout a convolution reads: the layout change costs one pass, not several."""
    n, c, height, width = x.shape
    if x.is_contiguous(memory_format=torch.channels_last):   # storage is (n, h, i, w, j, c)
        blocks = x.permute(0, 2, 3, 1).reshape(n, height // s, s, width // s, s, c).permute(0, 1, 3, 5, 2, 4)
    else:                                                    # storage is (n, c, h, i, w, j)
        blocks = x.reshape(n, c, height // s, s, width // s, s).permute(0, 2, 4, 1, 3, 5)
    return blocks.reshape(n, height // s, width // s, c * s * s).permute(0, 3, 1, 2)


class SpaceToDepthConv2d(nn.Module):
    """A Conv2d with stride s, recomputed as pixel_unshuffle(s) followed by a stride-1 Conv2d, or
    where the kernels run, in pixel pairs straight from the image (module docstring)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.pools = False    # whether it runs the ReLU and 3x3, stride-2 max-pool that follow (take_relu_and_pool)
        self.stride = conv.stride[0]
        s = self.stride
        self.kernel_size = conv.kernel_size
        self.padding = conv.padding
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        blocks = [math.ceil(k / s) for k in conv.kernel_size]
        self.blocks = blocks
        weight = conv.weight.detach()
        out_channels, in_channels, kh, kw = weight.shape
        padded = F.pad(weight, (0, blocks[1] * s - kw, 0, blocks[0] * s - kh))
        # W'[o, c*s*s + i*s + j, a, b] = W[o, c, a*s + i, b*s + j]: pixel_unshuffle's channel order.
        regrouped = (padded.reshape(out_channels, in_channels, blocks[0], s, blocks[1], s)
                     .permute(0, 1, 3, 5, 2, 4)
                     .reshape(out_channels, in_channels * s * s, blocks[0], blocks[1]))
        self.weight = nn.Parameter(regrouped.contiguous(), requires_grad=False)
        # the pairs form: two output pixels per GEMM row, straight from the image (kernels.conv_pairs)
        self.pair_weight = nn.Parameter(kernels.pack_pairs(weight, s, self.padding[1]), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        # AlexNet's conv1 with its pool: one CUDA kernel on Hopper's wgmma (conv1_wgmma.py)
        # (flat, so a channels_last model keeps its layout and the op does not copy it each call)
        self.wgmma_weight = (nn.Parameter(conv1_wgmma.pack_weights(weight).flatten(), requires_grad=False)
                             if conv1_wgmma.fits(conv) else None)

    def _output_size(self, size: int, axis: int) -> int:
        return (size + 2 * self.padding[axis] - self.kernel_size[axis]) // self.stride + 1

    def conv_output_shape(self, x: torch.Tensor) -> tuple:
        """The convolution's output shape for input x, before any pool this layer runs."""
        return (x.shape[0], self.out_channels, self._output_size(x.shape[-2], 0), self._output_size(x.shape[-1], 1))

    def take_relu_and_pool(self, pool: nn.MaxPool2d) -> bool:
        """Run the ReLU and the 3x3, stride-2 max-pool that follow this layer as part of it, where the
        pairs form can take the pool's row part (its output channels, doubled, fill the kernel's
        tiles): the kernel then writes a tensor half as wide and the pool's column part reads that;
        the bias and ReLU follow the pool (conv1_wgmma adds the bias before rounding). False where it
        cannot."""
        pair = nn.modules.utils._pair
        if not (type(pool) is nn.MaxPool2d and pair(pool.kernel_size) == (3, 3) and pair(pool.stride) == (2, 2)
                and pair(pool.padding) == (0, 0) and pair(pool.dilation) == (1, 1) and not pool.ceil_mode
                and not pool.return_indices and self.pair_weight.shape[1] == 2 * self.out_channels):
            return False
        self.pools = True
        return True

    def _why_not_pairs(self, x: torch.Tensor) -> str:
        """'' where forward(x) takes the pairs form, else why not (what the run-time check records).
        The pairs form needs the Triton kernels to run on a channels_last input (the kernel reads NHWC),
        a pair's outputs to fit the tiles that were measured (128 wide: 64 channels), and two images or
        more: a single image keeps the space-to-depth form, whose batch-1 latency was measured, and
        the run-time check (verify_rewrite: a batch, then its first image alone) then sees both forms."""
        return (kernels.pairs_unavailable(x) or kernels.nhwc_unavailable(x)
                or ("" if self.out_channels <= 64 else "more than 64 output channels")
                or ("one image" if x.shape[0] < 2 else ""))

    def _wgmma_candidate(self) -> bool:
        """Whether this layer is AlexNet's conv1 with its ReLU and pool, which conv1_wgmma computes."""
        return self.wgmma_weight is not None and self.pools

    def _why_not_wgmma(self, x: torch.Tensor) -> str:
        """'' where forward(x) runs conv1_wgmma, else why not: AlexNet's conv1 followed by its pool, on
        two or more 224 x 224 fp16/bf16 channels_last images on a GPU it runs on (conv1_wgmma.unavailable)."""
        if not self._wgmma_candidate():
            return "not AlexNet's conv1 and pool"
        height, width = conv1_wgmma.IMAGE
        return (conv1_wgmma.unavailable(x.device.index if x.is_cuda else -1, x.dtype)
                or ("" if x.is_contiguous(memory_format=torch.channels_last) else "input not channels_last")
                or ("" if tuple(x.shape[-2:]) == (height, width) else f"input not {height}x{width}")
                or ("one image" if x.shape[0] < 2 else ""))

    def form(self, x: torch.Tensor) -> str:
        """Which form forward(x) takes, and why not the faster ones."""
        why_not_wgmma = self._why_not_wgmma(x)
        if not why_not_wgmma:
            return "wgmma (cuda conv1_wgmma, with the bias, pool and ReLU)"
        reason = self._why_not_pairs(x)
        if reason:
            return f"space-to-depth ({reason})"
        if not self._wgmma_candidate():
            return "pixel pairs (triton conv_pairs" + (", with the pool's row max)" if self.pools else ")")
        return f"pixel pairs (triton conv_pairs, with the pool's row max; not conv1_wgmma: {why_not_wgmma})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._why_not_wgmma(x):
            return torch.ops.cnnbench.conv1_wgmma(x, self.wgmma_weight, self.bias).permute(0, 3, 1, 2)
        bias = None if self.pools else self.bias     # a pool's bias and ReLU follow it
        if not self._why_not_pairs(x):
            y = self._pairs(x, bias)
            # the pool's column part
            return kernels.max_pool(y, (3, 1), (2, 1), self.bias, relu=True) if self.pools else y
        y = self._space_to_depth(x, bias)
        return kernels.max_pool(y, (3, 3), (2, 2), self.bias, relu=True) if self.pools else y

    def _space_to_depth(self, x: torch.Tensor, bias) -> torch.Tensor:
        s = self.stride
        height, width = x.shape[-2:]
        pads = []
        for axis, size in ((1, width), (0, height)):    # F.pad's order: last dimension first
            pad, blocks = self.padding[axis], self.blocks[axis]
            # the padded extent the stride-1 conv needs; a negative pad crops unused rows
            pads += [pad, (self._output_size(size, axis) + blocks - 1) * s - size - pad]
        return F.conv2d(space_to_depth(F.pad(x, pads), s), self.weight, bias)

    def _pairs(self, x: torch.Tensor, bias) -> torch.Tensor:
        _, _, out_height, out_width = self.conv_output_shape(x)
        bias = None if bias is None else bias.repeat(2)
        y = torch.ops.cnnbench.conv_pairs(x, self.pair_weight, bias, self.stride, *self.kernel_size, *self.padding,
                                          out_height, out_width, self.out_channels, self.pools)
        return y.permute(0, 3, 1, 2)    # NCHW-shaped, channels_last in memory

    def extra_repr(self) -> str:
        return (f"space_to_depth={self.stride}, kernel_size={self.kernel_size}, "
                f"regrouped={tuple(self.weight.shape)}, pairs={tuple(self.pair_weight.shape)}"
                + (", then max_pool 3x3 stride 2 and ReLU" if self.pools else ""))


def bias_relu(x: torch.Tensor, bias) -> torch.Tensor:
    """relu(x + bias) per channel (relu(x) without a bias)."""
    return F.relu(x if bias is None else x + bias.view(1, -1, 1, 1))


class BiasReLU(nn.Module):
    """relu(x + bias) per channel: a convolution's bias and ReLU, applied after its max-pool."""

    def __init__(self, bias: torch.Tensor):
        super().__init__()
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_relu(x, self.bias)

    def extra_repr(self) -> str:
        return f"channels={self.bias.numel()}"


class MaxPool2d(nn.MaxPool2d):
    """A max-pool without padding, dilation, ceil mode or indices, and the bias and ReLU moved after it
    (if any), through kernels.max_pool: one Triton kernel where the kernels run. Same class name as
    PyTorch's, so reports that go by it read the same. flatten_order: its output is flattened next
    (the last pool before a classifier), so it is written in NCHW order."""

    def __init__(self, kernel_size, stride, bias=None, relu: bool = False):
        super().__init__(kernel_size, stride)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.relu, self.flatten_order = relu, False

    @classmethod
    def plain(cls, pool: nn.MaxPool2d) -> bool:
        pair = nn.modules.utils._pair
        return (type(pool) is nn.MaxPool2d and pair(pool.padding) == (0, 0) and pair(pool.dilation) == (1, 1)
                and not pool.ceil_mode and not pool.return_indices)

    @classmethod
    def of(cls, pool: nn.MaxPool2d, bias=None, relu: bool = False) -> "MaxPool2d":
        """The plain pool `pool`, its window and stride as pairs (what max_pool takes), with the bias
        and ReLU that follow it."""
        pair = nn.modules.utils._pair
        return cls(pair(pool.kernel_size), pair(pool.stride), bias, relu)

    def kernel(self, x: torch.Tensor) -> str:
        """Which kernel forward(x) runs in eager, and why not the Triton one."""
        return kernels.max_pool_kernel(x, self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kernels.max_pool(x, self.kernel_size, self.stride, self.bias, self.relu, self.flatten_order)

    def extra_repr(self) -> str:
        return (super().extra_repr() + (", then bias" if self.bias is not None else "")
                + (", then ReLU" if self.relu else "") + (", NCHW out" if self.flatten_order else ""))


class ConvReLU(nn.Conv2d):
    """relu(conv(x) + bias): cuDNN's fused kernel for fp16/bf16 CUDA input and weights of the same
    dtype, else the two steps. Under autocast (--amp) the weights stay fp32 and autocast does not
    cast the fused op's arguments, so there the two steps run and autocast casts the convolution."""

    @classmethod
    def fused(cls, conv: nn.Conv2d) -> "ConvReLU":
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                  conv.groups, conv.bias is not None, device="meta")
        new.weight, new.bias = conv.weight, conv.bias
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _CUDNN and x.is_cuda and x.dtype in kernels.HALF and self.weight.dtype == x.dtype and self.bias is not None:
            return torch.cudnn_convolution_relu(x, self.weight, self.bias, self.stride, self.padding,
                                                self.dilation, self.groups)
        return F.relu(super().forward(x))


class WgmmaConv2d(nn.Conv2d):
    """AlexNet's conv2 through conv2_wgmma (one CUDA kernel on Hopper's wgmma) where it runs, else
    cuDNN's convolution; form() says which and why."""

    @classmethod
    def of(cls, conv: nn.Conv2d) -> "WgmmaConv2d":
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                  conv.groups, conv.bias is not None, device="meta")
        new.weight, new.bias = conv.weight, conv.bias
        # flat, so a channels_last model keeps its layout
        new.register_buffer("packed", conv2_wgmma.pack_weights(conv.weight.detach()), persistent=False)
        return new

    def why_not_wgmma(self, x: torch.Tensor) -> str:
        """'' where forward(x) runs conv2_wgmma, else why not: fp16/bf16 channels_last 27 x 27 input of at
        least conv2_wgmma.MIN_IMAGES images on a GPU it runs on, weights of the input's dtype."""
        side, least = conv2_wgmma.SIDE, conv2_wgmma.MIN_IMAGES
        return (conv2_wgmma.unavailable(x.device.index if x.is_cuda else -1, x.dtype)
                or ("" if self.packed.dtype == x.dtype else "weights not of the input's dtype")
                or ("" if x.is_contiguous(memory_format=torch.channels_last) else "input not channels_last")
                or ("" if tuple(x.shape[-2:]) == (side, side) else f"input not {side}x{side}")
                or ("" if x.shape[0] >= least else f"fewer than {least} images"))

    def form(self, x: torch.Tensor) -> str:
        why_not = self.why_not_wgmma(x)
        return f"cuDNN (not conv2_wgmma: {why_not})" if why_not else "wgmma (cuda conv2_wgmma)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.why_not_wgmma(x):
            return torch.ops.cnnbench.conv2_wgmma(x, self.packed, self.bias).permute(0, 3, 1, 2)
        return super().forward(x)


class LinearReLU(nn.Linear):
    """A linear layer with the ReLU after it (or none), through kernels.linear."""

    @classmethod
    def fused(cls, linear: nn.Linear, relu: bool) -> "LinearReLU":
        new = cls(linear.in_features, linear.out_features, linear.bias is not None, device="meta")
        new.weight, new.bias, new.relu = linear.weight, linear.bias, relu
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kernels.linear(x, self.weight, self.bias, self.relu)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", relu={self.relu}"


class SkipIdentityAdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """AdaptiveAvgPool2d that returns its input unchanged when it is already the output size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        target = nn.modules.utils._pair(self.output_size)
        if all(t is None or t == s for t, s in zip(target, x.shape[-2:])):
            return x
        return super().forward(x)


def rewritable(module: nn.Module) -> bool:
    return (isinstance(module, nn.Conv2d) and type(module) is nn.Conv2d
            and module.groups == 1 and module.dilation == (1, 1) and module.padding_mode == "zeros"
            and isinstance(module.padding, tuple)
            and module.stride[0] == module.stride[1] and module.stride[0] > 1
            and module.in_channels <= MAX_INPUT_CHANNELS)


def _pool_first(sequential: nn.Sequential) -> int:
    """Move each ReLU (and the bias of a convolution before it) past the MaxPool2d it feeds.

    conv, ReLU, pool becomes conv without bias, then the pool with the bias and ReLU (MaxPool2d, in
    the ReLU's slot), then an Identity; a lone ReLU goes into the pool the same way. A pool with
    padding, dilation or ceil mode stays PyTorch's, with a BiasReLU (or the ReLU) after it. A
    SpaceToDepthConv2d that can run the pool takes it with the bias and ReLU (take_relu_and_pool),
    and the ReLU's and pool's slots become Identities. The slots keep their names, so per-layer
    reports still line up with the model's own numbering.
    """
    modules, names = sequential._modules, list(sequential._modules)
    moved = 0
    for index, (first, second) in enumerate(zip(names, names[1:])):
        relu, pool = modules[first], modules[second]
        if not (type(relu) is nn.ReLU and type(pool) is nn.MaxPool2d):
            continue
        conv = modules[names[index - 1]] if index > 0 else None
        biased = isinstance(conv, (nn.Conv2d, SpaceToDepthConv2d)) and conv.bias is not None
        if biased and isinstance(conv, SpaceToDepthConv2d) and conv.take_relu_and_pool(pool):
            modules[first], modules[second] = nn.Identity(), nn.Identity()
        elif MaxPool2d.plain(pool):
            modules[first], modules[second] = MaxPool2d.of(pool, conv.bias if biased else None, relu=True), nn.Identity()
        else:
            modules[first], modules[second] = pool, BiasReLU(conv.bias) if biased else relu
        if biased and not isinstance(modules[first], nn.Identity):
            conv.bias = None
        moved += 1
    return moved


def _fuse_relu(sequential: nn.Sequential) -> int:
    """A Conv2d or Linear followed by a ReLU becomes one ConvReLU or LinearReLU; the ReLU's slot
    becomes an Identity, so names still line up."""
    modules, names = sequential._modules, list(sequential._modules)
    fused = 0
    for index, name in enumerate(names):
        layer = modules[name]
        follower = modules[names[index + 1]] if index + 1 < len(names) else None
        relu_follows = type(follower) is nn.ReLU
        if type(layer) is nn.Conv2d and relu_follows and layer.padding_mode == "zeros" \
                and isinstance(layer.padding, tuple):
            modules[name] = ConvReLU.fused(layer)
        elif type(layer) is nn.Linear and relu_follows:
            modules[name] = LinearReLU.fused(layer, relu=True)
        else:
            continue
        if relu_follows:
            modules[names[index + 1]] = nn.Identity()
        fused += 1
    return fused


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child_name = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child_name, new)


def _write_last_pool_in_flatten_order(model: nn.Module) -> None:
    """torchvision's AlexNet and VGG flatten their features' output for the classifier, after an average
    pool that is the identity at 224 pixels: where the features end with a MaxPool2d, it writes its
    output in the flatten's (NCHW) order, so the flatten reads it without a copy."""
    features = getattr(model, "features", None)
    if not (isinstance(features, nn.Sequential) and hasattr(model, "classifier")
            and isinstance(getattr(model, "avgpool", None), SkipIdentityAdaptiveAvgPool2d)):
        return
    last = [module for module in features if not isinstance(module, nn.Identity)][-1:]
    if last and isinstance(last[0], MaxPool2d):
        last[0].flatten_order = True


def rewrite_model(model: nn.Module) -> nn.Module:
    """A copy of `model` with every rewritable layer replaced; the original is untouched."""
    fast = copy.deepcopy(model)
    replaced = 0
    for name, module in list(fast.named_modules()):
        if rewritable(module):
            _replace(fast, name, SpaceToDepthConv2d(module))
            replaced += 1
        elif type(module) is nn.AdaptiveAvgPool2d:
            _replace(fast, name, SkipIdentityAdaptiveAvgPool2d(module.output_size))
            replaced += 1
    for module in list(fast.modules()):   # after space-to-depth, so a rewritten conv gives up its bias too
        if isinstance(module, nn.Sequential):
            replaced += _pool_first(module)
            replaced += _fuse_relu(module)    # after pool-first: only ReLUs no pool follows are left
    for name, module in list(fast.named_modules()):   # the linear layers no ReLU follows, the plain pools
        if type(module) is nn.Conv2d and conv2_wgmma.fits(module):
            _replace(fast, name, WgmmaConv2d.of(module))
            replaced += 1
        elif type(module) is nn.Linear:
            _replace(fast, name, LinearReLU.fused(module, relu=False))
            replaced += 1
        elif MaxPool2d.plain(module):
            _replace(fast, name, MaxPool2d.of(module))
            replaced += 1
    _write_last_pool_in_flatten_order(fast)
    if not replaced:
        raise UserError("rewrite: this model has nothing to rewrite (no strided convolution over "
                        f"<= {MAX_INPUT_CHANNELS} input channels, linear layer, ReLU after a convolution or "
                        "before a max-pool, max-pool without padding, or adaptive average pool)")
    return fast


def verify_rewrite(reference: nn.Module, rewritten: nn.Module, images: torch.Tensor, mode) -> dict:
    """Both models on the same input, whole (on CUDA, repeated up to the batch AlexNet's conv2 takes
    its kernel from) and its first image alone (batch 1 takes other kernels):
    max abs difference and top-1 agreement; beyond tolerance is an error. Says which linear kernel
    ran, which kernels the max-pool layers ran (eager), and which form each strided convolution and
    AlexNet's conv2 took on each (in that order)."""
    if images.is_cuda and any(isinstance(module, WgmmaConv2d) for module in rewritten.modules()) \
            and len(images) < conv2_wgmma.MIN_IMAGES:
        # conv2_wgmma runs from MIN_IMAGES on: the images repeated up to that, so the check runs it too
        layout = (torch.channels_last if images.dim() == 4 and images.is_contiguous(memory_format=torch.channels_last)
                  else torch.contiguous_format)
        repeats = -(-conv2_wgmma.MIN_IMAGES // len(images))
        images = torch.cat([images] * repeats)[:conv2_wgmma.MIN_IMAGES].contiguous(memory_format=layout)
    forms, wgmma_forms, pools = [], [], set()
    hooks = [module.register_forward_pre_hook(lambda layer, args: forms.append(layer.form(args[0])))
             for module in rewritten.modules() if isinstance(module, SpaceToDepthConv2d)]
    hooks += [module.register_forward_pre_hook(lambda layer, args: wgmma_forms.append(layer.form(args[0])))
              for module in rewritten.modules() if isinstance(module, WgmmaConv2d)]
    hooks += [module.register_forward_pre_hook(lambda layer, args: pools.add(layer.kernel(args[0])))
              for module in rewritten.modules() if isinstance(module, MaxPool2d)]
    try:
        with torch.inference_mode():
            expected = torch.cat([reference(images), reference(images[:1])]).float()
            actual = torch.cat([rewritten(images), rewritten(images[:1])]).float()
    finally:
        for hook in hooks:
            hook.remove()
    max_abs = (actual - expected).abs().max().item()
    scale = expected.abs().max().item() or 1.0
    agreement = (actual.argmax(1) == expected.argmax(1)).float().mean().item()
    unavailable = kernels.kernel_unavailable(images)
    check = {"max_abs_diff": max_abs, "max_abs_reference": scale, "relative_diff": max_abs / scale,
             "top1_agreement": agreement, "images": images.shape[0] + 1,
             "tolerance_relative": TOLERANCE[mode.precision],
             "batch1_linear_kernel": f"F.linear ({unavailable})" if unavailable else "triton linear_row",
             "max_pool_kernel": "; ".join(sorted(pools)) or None,
             "strided_conv_forms": forms, "conv2_forms": wgmma_forms}
    if not max_abs / scale <= TOLERANCE[mode.precision]:
        raise UserError(f"rewrite: rewritten model differs from the reference by {max_abs:.3g} "
                        f"(relative {max_abs / scale:.3g} > {TOLERANCE[mode.precision]}); not used")
    return check
