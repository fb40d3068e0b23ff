#!/usr/bin/env python3
"""The max-pools in eager: ATen's NHWC max-pool against exact forms that give it wider channels.

With --rewrite, conv_pairs stores each output row's max over pool1's 3-wide windows (AlexNet: n x 55
x 27 x 64, NHWC). A (3, 1), stride-(2, 1) max-pool over its rows finishes the 3 x 3 pool. In eager,
ATen's channels_last max-pool runs that slowly: conv1's layer took 3.950 ms at batch 4096 against
2.357 for conv_pairs alone (energy_budget call 1). The compiled forward fuses it with the bias and
ReLU that follow (271 us). The forms, each exact (max picks one of its inputs):
- aten: F.max_pool2d(y, (3, 1), (2, 1)), as shipped until fed079a (since then the eager pools are
  a Triton kernel, kernels.max_pool);
- wide: the same pool over y seen as (n, 27 * 64, 55, 1), channels_last, so the kernel's loop over
  channels is 1,728 wide instead of 64;
- maximum: torch.maximum over the three row views (two elementwise kernels).
The same forms apply to pool2 and pool5 (3 x 3, stride 2) split into their row part, (1, 3) at stride
(1, 2), then their column part: max is separable, so the bits are the same. Eager, ATen's pool took
2.810 ms for pool2 at 4096 (energy_budget call 1), 0.44 TB/s.
Each alone (do_bench) on conv_pairs' real output and on a tensor of conv2's output shape, checked bit
for bit against ATen's; then the whole model with --rewrite, eager and compiled + graphed, with each
column form, and with the wide forms in pool2 and pool5 as well, the shipped form first and last;
eager also at batch 256, where the forward is bound by the host and extra launches would show.
Usage: python benchmarks/investigations/column_pool.py [--batch-size 4096]
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.modes import compile_options  # noqa: E402
from cnnbench.rewrites import SpaceToDepthConv2d, bias_relu  # noqa: E402
from plain_loop import build, graphed  # noqa: E402


def aten(y):
    return F.max_pool2d(y, (3, 1), (2, 1))


def wide(y):
    n, channels, height, width = y.shape       # y is channels_last: (n, height, width * channels) in memory
    wide_channels = width * channels
    # the width-1 dimension's stride set to the channels' span, so that ATen sees (and writes) channels_last
    rows = y.as_strided((n, wide_channels, height, 1), (height * wide_channels, 1, wide_channels, wide_channels))
    pooled = F.max_pool2d(rows, (3, 1), (2, 1))
    out_height = pooled.shape[2]
    return pooled.as_strided((n, channels, out_height, width),
                             (out_height * wide_channels, 1, wide_channels, channels))


def maximum(y):
    last = y.shape[2] - 2
    return torch.maximum(torch.maximum(y[:, :, 0:last:2], y[:, :, 1:last + 1:2]), y[:, :, 2:last + 2:2])


FORMS = {"aten": aten, "wide": wide, "maximum": maximum}
SHIPPED_FORWARD = SpaceToDepthConv2d.forward


def row_maximum(y):
    last = y.shape[3] - 2
    return torch.maximum(torch.maximum(y[..., 0:last:2], y[..., 1:last + 1:2]), y[..., 2:last + 2:2])


ROW_FORMS = {"aten": lambda y: F.max_pool2d(y, (1, 3), (1, 2)), "wide": lambda y: F.max_pool2d(y, (1, 3), (1, 2)),
             "maximum": row_maximum}    # the row part cannot widen: the pooled axis lies next to the channels


def pool3x3(name):
    """A 3 x 3, stride-2 max-pool: its row part, then its column part in the form `name`."""
    return lambda y: FORMS[name](ROW_FORMS[name](y))


class SeparablePool(torch.nn.Module):
    def __init__(self, form):
        super().__init__()
        self.form = form

    def forward(self, y):
        return self.form(y)


def with_column_pool(column_pool):
    """SpaceToDepthConv2d.forward with `column_pool` as the pool's column part in the pairs form."""
    def forward(self, x):
        if self.pools and not self._why_not_pairs(x):
            return bias_relu(column_pool(self._pairs(x, None)), self.bias)
        return SHIPPED_FORWARD(self, x)
    return forward


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    build_args = argparse.Namespace(model="alexnet", batch_size=args.batch_size, precision="bf16", channels_last=True,
                                    compile=None, rewrite=True)
    model, x = build(build_args)
    conv1 = model.features[0]
    assert conv1.pools, "conv1 should run pool1"
    with torch.inference_mode():
        rows = conv1._pairs(x, None)
        conv2_out = torch.randn(args.batch_size, 192, 27, 27, device=x.device, dtype=x.dtype).contiguous(
            memory_format=torch.channels_last)
        cases = {"pool1 column part": (rows, aten, FORMS),
                 "pool2 (3 x 3)": (conv2_out, lambda y: F.max_pool2d(y, 3, 2),
                                   {name: pool3x3(name) for name in FORMS})}
        for case, (inputs, reference_form, forms) in cases.items():
            reference = reference_form(inputs)
            print(f"{case}: input {tuple(inputs.shape)}, strides {inputs.stride()}")
            for name, form in {"aten (as shipped)": reference_form, **forms}.items():
                out = form(inputs)
                same = out.shape == reference.shape and torch.equal(out, reference)
                ms = do_bench(lambda: form(inputs), warmup=200, rep=1000)
                moved = (inputs.numel() + out.numel()) * inputs.element_size()
                print(f"  alone {name:<18} {ms * 1e3:8.1f} us  {moved / ms / 1e9:5.2f} TB/s  bit-exact: {same}  "
                      f"out strides {out.stride()}")
        pools = [i for i, layer in enumerate(model.features) if isinstance(layer, torch.nn.MaxPool2d)]
        shipped_pools = {i: model.features[i] for i in pools}
        variants = [("aten", "aten", False), ("wide", "wide", False), ("maximum", "maximum", False),
                    ("wide, pools too", "wide", True), ("aten", "aten", False)]
        outputs, small = {}, x[:256]      # eager at 256 is bound by the host: extra launches show there
        for name, column_form, pools_too in variants:
            SpaceToDepthConv2d.forward = with_column_pool(FORMS[column_form])
            for i in pools:
                model.features[i] = SeparablePool(pool3x3(column_form)) if pools_too else shipped_pools[i]
            out = model(x)
            outputs.setdefault("aten", out)
            eager_ms = do_bench(lambda: model(x), warmup=500, rep=2000)
            small_ms = do_bench(lambda: model(small), warmup=200, rep=1000)
            torch._dynamo.reset()
            compiled = torch.compile(model, dynamic=False, options=compile_options("default", x.device))
            graphed_ms = do_bench(graphed(compiled, x), warmup=500, rep=2000)
            print(f"model {name:<16} eager {eager_ms:7.3f} ms (256: {small_ms:6.3f})   compiled + graphed {graphed_ms:7.3f} ms "
                  f"({args.batch_size / graphed_ms * 1e3:,.0f} images/s)   same output: {torch.equal(out, outputs['aten'])}")
        for i in pools:
            model.features[i] = shipped_pools[i]
    SpaceToDepthConv2d.forward = SHIPPED_FORWARD
    return 0


if __name__ == "__main__":
    sys.exit(main())
