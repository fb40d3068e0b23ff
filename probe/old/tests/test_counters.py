"""Measured bytes (alexnet_ai.py --counters) on the CPU: ncu's recorded CSV, attribution, checks, errors.

tests/data/ncu_raw_alexnet_bf16_batch1.csv is the raw page (base units; columns trimmed to the
ones read) that Nsight Compute 2025.3.1 wrote on an H200 for AlexNet at batch 1, bf16, contiguous,
--cache-control all, through cnnbench.ncu_target: 39 kernels, each with its NVTX stack.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import alexnet

from cnnbench.counters_report import counters_table, plot_hierarchical_roofline
from cnnbench.counters_run import attribute, checks
from cnnbench.errors import REPO_ROOT
from cnnbench.intensity import layer_costs
from cnnbench.ncu import KernelCounters, failure_reason, nvtx_ranges, parse_raw_csv

RECORDED = Path(__file__).with_name("data") / "ncu_raw_alexnet_bf16_batch1.csv"
H200_L2 = 60 * 2**20


@pytest.fixture(scope="module")
def kernels():
    return parse_raw_csv(RECORDED.read_text())


@pytest.fixture(scope="module")
def rows(kernels):
    return attribute(kernels, layer_costs(alexnet(), 1, torch.bfloat16), H200_L2)


def test_nvtx_stack_cells_give_range_names_with_their_colons():
    cell = ('529  "<default domain>:batch:64:none:none:none:none:none:none"  '
            '"<default domain>:layer:features.3:none:none:none:none:none:none" ')
    assert nvtx_ranges(cell) == ["batch:64", "layer:features.3"]
    assert nvtx_ranges("") == []


def test_every_kernel_of_the_recorded_forward_belongs_to_a_layer(kernels):
    assert len(kernels) == 39 and {k.batch_size for k in kernels} == {1}
    model = alexnet()
    computing = {name for name, module in model.named_modules()
                 if name and not list(module.children()) and not isinstance(module, nn.Dropout)}
    assert {k.layer for k in kernels} == computing      # dropout in eval launches nothing
    assert all(k.time_ns > 0 and k.l2_bytes > 0 for k in kernels)


def test_counted_arithmetic_is_never_below_the_analytic_flop(rows):
    for row in rows:
        if row["type"] in ("Conv2d", "Linear"):
            assert row["flop_counted"] >= 0.99 * row["flop"] - 64 * 2**10, row["name"]   # bias adds may fuse
    fc1 = next(r for r in rows if r["name"] == "classifier.1")
    assert fc1["flop_counted"] > 4 * fc1["flop"]      # batch 1 padded to the tensor cores' smallest tile


def test_inputs_and_weights_come_from_dram_when_caches_start_cold(rows):
    """--cache-control all flushes before each kernel: every layer reads at least its weights."""
    for row in rows:
        if row["type"] in ("Conv2d", "Linear"):
            module = dict(alexnet().named_modules())[row["name"]]
            weight_bytes = 2 * sum(p.numel() for p in module.parameters())
            assert row["dram_read_bytes"] >= 0.95 * weight_bytes, row["name"]


def test_layout_conversions_are_charged_to_the_convolutions_that_make_them(rows):
    converted = {r["name"] for r in rows if r["layout_conversions"]["kernels"]}
    assert converted == {"features.3", "features.6", "features.8", "features.10"}
    conv2 = next(r for r in rows if r["name"] == "features.3")
    assert conv2["kernel_count"] > conv2["layout_conversions"]["kernels"] >= 2


def test_per_layer_sums_equal_the_totals_and_strays_go_to_other(kernels, rows):
    result = checks(rows, kernels, H200_L2)
    assert result["layers_sum_to_totals"] and result["kernels"] == 39
    assert not result["below_minimum_unexplained"]
    stray = KernelCounters("copy_kernel", 1, None, 1500.0, 4096.0, 4096.0, 9000.0)
    with_stray = attribute(kernels + [stray], layer_costs(alexnet(), 1, torch.bfloat16), H200_L2)
    assert with_stray[-1]["name"] == "other" and with_stray[-1]["kernel_count"] == 1
    assert checks(with_stray, kernels + [stray], H200_L2)["layers_sum_to_totals"]
    assert not checks(with_stray[:-1], kernels + [stray], H200_L2)["layers_sum_to_totals"]


def test_report_and_hierarchical_roofline(kernels, rows):
    result = {"batch_size": 1, "layers": rows, "checks": checks(rows, kernels, H200_L2)}
    table = counters_table(result)
    assert "per-layer sums equal ncu's totals: yes" in table and "features.3" in table
    assert "classifier.0" not in table                  # no kernels: not a row
    ceilings = {"peak_flops": 780e12, "dram_bytes_per_s": 4.3e12, "l2_bytes_per_s": 10e12}
    figure = plot_hierarchical_roofline([result, result], ceilings, "test")
    plotted = [r for r in rows if r["flop"] and r["kernel_count"]]
    assert len(figure.axes) == 2                        # batch sizes side by side
    for axis in figure.axes:
        assert sum(len(c.get_offsets()) for c in axis.collections) == 2 * len(plotted)   # DRAM and L2 per layer


@pytest.mark.parametrize("output, expected", [
    ("==PROF== Connected\n==ERROR== Failed to profile kernel: LibraryNotLoaded\n", "LibraryNotLoaded"),
    ("==ERROR== ERR_NVGPUCTRPERM - The user does not have permission\n", "ERR_NVGPUCTRPERM"),
    ("==ERROR== something else\n", "something else")])
def test_failures_are_one_line_naming_the_cause(output, expected):
    reason = failure_reason(output)
    assert expected in reason and "\n" not in reason


def test_missing_ncu_is_one_clear_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "alexnet" / "alexnet_ai.py"), "--counters",
                             "--ncu", str(tmp_path / "no-ncu"), "--output-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Nsight Compute not found" in result.stderr
    assert not list(tmp_path.glob("measured_bytes_results*"))
