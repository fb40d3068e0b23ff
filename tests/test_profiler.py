"""The profiler on the CPU: every leaf layer in order, rows that add up, trace, report and plot."""

import json

import pytest
import torch
from PIL import Image
from torchvision.models import alexnet

import alexnet_profiler
from cnnbench.models import leaf_modules
from cnnbench.profiling import profile_layers
from conftest import read_single_json

# On the CPU the rows are CPU times of nested ranges: what no leaf holds (the flatten, hook overhead)
# goes to "other". It must stay small for the breakdown to mean anything.
CPU_COVERAGE_TOLERANCE = 0.10


def test_layers_cover_every_leaf_in_order_and_add_up():
    model = alexnet().eval()
    images = torch.randn(2, 3, 224, 224)
    result = profile_layers(model, lambda: model(images), torch.device("cpu"), active_steps=3, warmup_steps=1)
    names = [row.name for row in result.layers]
    assert names == [name for name, _ in leaf_modules(model)] + ["other"]
    assert names[0] == "features.0" and names[-2] == "classifier.6"
    assert result.sum_of_layers_us == pytest.approx(result.forward_us)
    assert abs(result.layers[-1].time_us) <= CPU_COVERAGE_TOLERANCE * result.forward_us
    assert all(row.time_us > 0 for row in result.layers[:-1])
    conv1 = result.layers[0]
    assert conv1.output_shape == [2, 64, 55, 55] and conv1.activation_bytes == 2 * 64 * 55 * 55 * 4
    assert conv1.kind == "conv" and result.layers[1].kind == "activation" and result.layers[2].kind == "pooling"
    assert any("conv" in k["name"] for k in conv1.kernels)


def test_profiler_script_writes_report_json_trace_and_png(tmp_path, capsys):
    args = alexnet_profiler.get_args_parser().parse_args(
        ["--device", "cpu", "--weights", "none", "--synthetic", "--batch-sizes", "1,2", "--steps", "2",
         "--warmup", "1", "--output-dir", str(tmp_path)])
    assert alexnet_profiler.main(args) == 0
    text = next(tmp_path.glob("*.txt")).read_text()
    for heading in ("GPU DETECTION DIAGNOSTICS", "COMPLETE MODEL STRUCTURE", "FEATURES SECTION",
                    "CLASSIFIER SECTION", "PARAMETER COUNTS", "LAYER NAMES AND SHAPES",
                    "PER-LAYER BREAKDOWN (batch 1, PROFILED)", "PER-LAYER BREAKDOWN (batch 2, PROFILED)",
                    "KERNELS PER LAYER", "PYTORCH PROFILER RESULTS", "OPERATORS GROUPED BY INPUT SHAPE",
                    "LAYER SHARE OF THE FORWARD BY BATCH SIZE", "Unprofiled forward"):
        assert heading in text, heading
    assert "Total parameters: 61,100,840" in text and "SYNTHETIC" in text
    result = read_single_json(tmp_path, "profiler_results_*[0-9].json")
    assert [r["batch_size"] for r in result["batch_sizes"]] == [1, 2]
    for per_batch in result["batch_sizes"]:
        layers = per_batch["layers"]
        assert len(layers) == 22 and layers[-1]["name"] == "other"
        assert sum(layer["share"] for layer in layers) == pytest.approx(1.0)
        assert per_batch["unprofiled"]["median_ms"] > 0
        trace = json.loads(open(per_batch["trace"]).read())
        events = trace["traceEvents"]
        assert len(events) > 100 and any(str(e.get("name", "")).startswith("layer:features.0") for e in events)
    with Image.open(next(tmp_path.glob("*.png"))) as png:
        png.verify()


def test_profiler_reports_the_rewritten_layers(tmp_path):
    args = alexnet_profiler.get_args_parser().parse_args(
        ["--device", "cpu", "--weights", "none", "--synthetic", "--batch-sizes", "1", "--steps", "1",
         "--warmup", "1", "--rewrite", "--output-dir", str(tmp_path)])
    assert alexnet_profiler.main(args) == 0
    assert "SpaceToDepthConv2d(space_to_depth=4" in next(tmp_path.glob("*.txt")).read_text()
    layers = read_single_json(tmp_path, "profiler_results_*[0-9].json")["batch_sizes"][0]["layers"]
    # conv1 runs the ReLU and pool after it, which leaves Identities in their slots
    assert [(row["type"], row["kind"]) for row in layers[:3]] == [
        ("SpaceToDepthConv2d", "conv"), ("Identity", "other"), ("Identity", "other")]
    assert layers[0]["output_shape"] == [1, 64, 27, 27]


@pytest.mark.parametrize("flags", [["--channels-last"], ["--precision", "bf16"], ["--precision", "fp16"]])
def test_profiler_runs_in_every_precision_and_layout(tmp_path, flags):
    """The unprofiled timing ran the forward outside inference mode and crashed on inference tensors."""
    args = alexnet_profiler.get_args_parser().parse_args(
        ["--device", "cpu", "--weights", "none", "--synthetic", "--batch-sizes", "1", "--steps", "1",
         "--warmup", "1", "--output-dir", str(tmp_path), *flags])
    assert alexnet_profiler.main(args) == 0
    per_batch = read_single_json(tmp_path, "profiler_results_*[0-9].json")["batch_sizes"][0]
    assert per_batch["unprofiled"]["median_ms"] > 0
    assert sum(layer["time_us"] for layer in per_batch["layers"]) == pytest.approx(per_batch["profiled_forward_us"])
