"""Arithmetic intensity: counts against hand-computed numbers and FlopCounterMode, files, --measure."""

import json
import math

import pytest
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import alexnet

import alexnet_ai
from cnnbench.intensity import Ceilings, layer_costs


def by_name(costs):
    return {cost.name: cost for cost in costs}


def test_conv1_at_batch_1_fp32():
    conv1 = by_name(layer_costs(alexnet(), 1, torch.float32))["features.0"]
    assert conv1.output_shape == [1, 64, 55, 55]
    assert conv1.flop_no_bias == 140_553_600 and conv1.macs == 70_276_800
    assert conv1.flop == 140_553_600 + 64 * 55 * 55                     # plus one add per output for bias
    # input 3x224x224, weights 64x3x11x11 + 64 bias, output 64x55x55, all fp32
    assert conv1.bytes == 4 * (3 * 224 * 224 + 64 * 3 * 11 * 11 + 64 + 64 * 55 * 55)
    assert conv1.intensity == pytest.approx(95.77, abs=0.01)


def test_pooling_relu_and_views_are_counted():
    costs = by_name(layer_costs(alexnet(), 1, torch.float32))
    relu, pool = costs["features.1"], costs["features.2"]
    assert relu.flop == 64 * 55 * 55 and relu.bytes == 2 * 4 * 64 * 55 * 55   # in place: read + write
    assert pool.output_shape == [1, 64, 27, 27] and pool.flop == 64 * 27 * 27 * 8
    assert costs["classifier.0"].flop == 0 and costs["classifier.0"].bytes == 0
    assert len(costs) == 21


@pytest.mark.parametrize("batch_size", [1, 8])
def test_conv_and_linear_totals_equal_flop_counter_mode(batch_size):
    model = alexnet().eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(batch_size, 3, 224, 224))
    assert sum(cost.flop_no_bias for cost in layer_costs(model, batch_size, torch.float32)) == counter.get_total_flops()


def test_bytes_scale_with_dtype_and_batch():
    model = alexnet()
    fp32_1, bf16_1, fp32_8 = (by_name(layer_costs(model, b, d)) for b, d in
                              ((1, torch.float32), (1, torch.bfloat16), (8, torch.float32)))
    for name in ("features.0", "features.1", "classifier.1"):
        assert bf16_1[name].bytes * 2 == fp32_1[name].bytes
        assert fp32_8[name].flop == 8 * fp32_1[name].flop
    # activations scale with batch, weights do not: the FC layers' intensity grows with batch
    weights = 4 * (9216 * 4096 + 4096)
    assert fp32_8["classifier.1"].bytes - weights == 8 * (fp32_1["classifier.1"].bytes - weights)
    assert fp32_8["classifier.1"].intensity > 7 * fp32_1["classifier.1"].intensity


def test_roof_is_the_lower_ceiling():
    ceilings = Ceilings(peak_flops=100e12, peak_bytes_per_s=2e12, flops_source="given", bandwidth_source="given")
    assert ceilings.ridge == 50
    assert ceilings.roof(10) == 20e12 and ceilings.roof(500) == 100e12


def test_script_with_measure_writes_table_json_and_png(tmp_path, capsys):
    args = alexnet_ai.get_args_parser().parse_args(
        ["--device", "cpu", "--weights", "none", "--batch-sizes", "1,2", "--measure", "--synthetic",
         "--peak-tflops", "0.5", "--output-dir", str(tmp_path)])
    assert alexnet_ai.main(args) == 0
    text = (tmp_path / "arithmetic_intensity_results.txt").read_text()      # the newest report, fixed name
    assert text == next(tmp_path.glob("arithmetic_intensity_results_*.txt")).read_text()
    assert "--- batch 1 ---" in text and "--- batch 2 ---" in text and "features.0" in text
    assert "500.00 GFLOP/s (given)" in text and "measured:" in text     # bandwidth was measured
    result = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert result["ceilings"]["flops_source"] == "given" and result["ceilings"]["peak_flops"] == 0.5e12
    conv1 = result["batch_sizes"][0]["layers"][0]
    assert conv1["time_us"] > 0 and conv1["achieved_flops"] == pytest.approx(conv1["flop"] / (conv1["time_us"] / 1e6))
    assert conv1["bound"] in ("compute", "memory")
    with Image.open(next(tmp_path.glob("*.png"))) as png:
        png.verify()


def test_roofline_labels_never_overlap_and_units_fit_the_ceiling():
    from cnnbench.roofline_report import plot_roofline

    layers = [{"name": f"layer{i}", "type": "ReLU", "intensity": 0.25, "roof_flops": 5e9,
               "achieved_flops": 1e9 * (1 + i * 0.01)} for i in range(12)]      # twelve points on top of each other
    ceilings = {"peak_flops": 2e11, "peak_bytes_per_s": 2.5e10, "ridge": 8.0}
    figure = plot_roofline([{"batch_size": 1, "measured": True, "layers": layers}], ceilings, "t")
    renderer = figure.canvas.get_renderer()
    texts = [t for t in figure.axes[0].texts]
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert len(boxes) == 15
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert any("200.00 GFLOP/s" in t.get_text() for t in texts)
    assert figure.axes[0].get_ylabel() == "Performance (GFLOP/s)"


def test_rewritten_model_keeps_its_useful_flop_and_saves_bytes(tmp_path):
    """--rewrite --measure: the rewritten layers timed and counted by the work they replace."""
    runs = {}
    for flags in ([], ["--rewrite"]):
        out = tmp_path / ("rewrite" if flags else "reference")
        args = alexnet_ai.get_args_parser().parse_args(
            ["--device", "cpu", "--weights", "none", "--measure", "--synthetic", "--peak-tflops", "0.5",
             "--peak-gbps", "50", "--output-dir", str(out), *flags])
        assert alexnet_ai.main(args) == 0
        runs[bool(flags)] = {row["name"]: row for row in
                             json.loads(next(out.glob("*.json")).read_text())["batch_sizes"][0]["layers"]}
    reference, rewritten = runs[False], runs[True]
    assert rewritten["features.0"]["type"] == "SpaceToDepthConv2d" and rewritten["features.0"]["time_us"] > 0
    assert rewritten["features.0"]["macs"] == reference["features.0"]["macs"]      # not its zero taps
    # conv1 runs its bias, pool and ReLU: the convolution with its bias, the pool's comparisons, a ReLU of
    # the pooled output, and the pool's output's bytes
    pooled = math.prod(reference["features.2"]["output_shape"])
    assert rewritten["features.0"]["flop"] == reference["features.0"]["flop"] + reference["features.2"]["flop"] + pooled
    assert rewritten["features.0"]["output_shape"] == reference["features.2"]["output_shape"]
    assert rewritten["features.0"]["bytes"] < reference["features.0"]["bytes"]
    # pool2 runs conv2's bias and ReLU after it: its comparisons, then a bias add and a ReLU per pooled output
    pooled2 = math.prod(reference["features.5"]["output_shape"])
    assert rewritten["features.4"]["type"] == "MaxPool2d"
    assert rewritten["features.4"]["flop"] == reference["features.5"]["flop"] + 2 * pooled2
    assert rewritten["features.3"]["flop"] == reference["features.3"]["flop"] - math.prod(
        reference["features.3"]["output_shape"])      # conv2 without its bias
    # conv3 + its ReLU, fused: the same FLOP, less traffic (the ReLU's read and write are gone)
    fused = rewritten["features.6"]["flop"] + rewritten["features.7"]["flop"]
    assert fused == reference["features.6"]["flop"] + reference["features.7"]["flop"]
    assert rewritten["features.6"]["bytes"] + rewritten["features.7"]["bytes"] < \
        reference["features.6"]["bytes"] + reference["features.7"]["bytes"]
    assert rewritten["classifier.1"]["type"] == "LinearReLU"
    assert sum(row["macs"] for row in rewritten.values()) == sum(row["macs"] for row in reference.values())


def test_rewritten_layers_take_the_colour_of_what_they_replace():
    from cnnbench.roofline_report import LAYER_COLOURS, layer_colour

    assert layer_colour("SpaceToDepthConv2d") == layer_colour("ConvReLU") == LAYER_COLOURS["Conv2d"]
    assert layer_colour("LinearReLU") == LAYER_COLOURS["Linear"] and layer_colour("Identity") == "tab:gray"
