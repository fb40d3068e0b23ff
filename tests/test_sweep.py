"""Execution modes and sweeps on the CPU: the grid, its files, refusals and out-of-memory cells."""

import csv
import json
import subprocess
import sys

import pytest
import torch
from PIL import Image
from torchvision.models import alexnet

import alexnet_benchmark
from cnnbench.errors import REPO_ROOT, UserError
from cnnbench.modes import Mode, Runner, check_mode, modes_for
from cnnbench.rewrites import BiasReLU, MaxPool2d, SpaceToDepthConv2d, rewrite_model
from conftest import WNIDS, make_image_folder

CPU_FAST = ["--device", "cpu", "--warmup", "1", "--quiet", "--weights", "none"]
ONE_PROCESS = ["--workers", "0"]    # data read in the main process: fast to start in a test


def run_main(*argv) -> int:
    return alexnet_benchmark.main(alexnet_benchmark.get_args_parser().parse_args([str(a) for a in argv]))


def test_cpu_sweep_writes_one_row_per_cell(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main("--sweep", "--precision", "fp32,bf16", "--batch-sizes", "1,2", "--num-batches", 2,
                    "--output-dir", out, *CPU_FAST) == 0
    rows = list(csv.DictReader((next(out.glob("*.csv"))).open()))
    cells = {(r["precision"], r["memory_format"], r["batch_size"]) for r in rows}
    assert len(rows) == len(cells) == 8
    assert all(r["status"] == "ok" and float(r["model_images_per_second"]) > 0 for r in rows)
    with Image.open(next(out.glob("*.png"))) as png:
        png.verify()
        assert png.format == "PNG"
    payload = json.loads(next(out.glob("*.json")).read_text())
    assert len(payload["records"]) == 8 and payload["records"][0]["environment"]["torch"] == torch.__version__
    printed = capsys.readouterr().out
    assert "Fastest throughput" in printed and "Lowest batch-1 latency" in printed


def test_rewrite_is_exact_for_strided_few_channel_convs():
    torch.manual_seed(0)
    for conv, size in ((torch.nn.Conv2d(3, 8, 11, stride=4, padding=2), 224),
                       (torch.nn.Conv2d(2, 4, (7, 5), stride=2, padding=(3, 1)), 37),
                       (torch.nn.Conv2d(1, 4, 3, stride=3, padding=0), 20)):
        conv = conv.double()
        for memory_format in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(2, conv.in_channels, size, size + 3, dtype=torch.float64).contiguous(
                memory_format=memory_format)
            torch.testing.assert_close(SpaceToDepthConv2d(conv)(x), conv(x), rtol=0, atol=1e-12)


def test_rewrite_mode_records_its_check():
    model = alexnet().eval()
    assert isinstance(rewrite_model(model).features[0], SpaceToDepthConv2d)
    assert isinstance(model.features[0], torch.nn.Conv2d)  # the reference is left untouched
    runner = Runner(model, Mode(rewrite=True), torch.device("cpu"), verify_input=torch.randn(2, 3, 224, 224))
    assert runner.rewrite_check["top1_agreement"] == 1.0
    assert runner.rewrite_check["relative_diff"] < 1e-5


def test_rewrite_run_says_which_linear_kernel_and_conv1_form_ran(tmp_path, capsys):
    assert run_main("--synthetic", "--rewrite", "--batch-size", 2, "--num-batches", 2, "--output-dir", tmp_path,
                    *CPU_FAST) == 0
    check = json.loads(next(tmp_path.glob("*.json")).read_text())["rewrite_check"]
    assert check["images"] == 3 and check["batch1_linear_kernel"].startswith("F.linear (")   # no CUDA here
    reason = check["batch1_linear_kernel"][len("F.linear ("):-1]     # the same reason keeps conv1's kernel off
    assert check["strided_conv_forms"] == [f"space-to-depth ({reason})"] * 2
    assert check["max_pool_kernel"] == f"F.max_pool2d ({reason})"
    printed = capsys.readouterr().out
    assert f"batch-1 linear layers: {check['batch1_linear_kernel']}; max-pools in eager: {check['max_pool_kernel']}" \
        in printed
    assert f"Strided convolutions (checked batch, then one image): space-to-depth ({reason}); " in printed
    assert check["conv2_forms"] == ["cuDNN (not conv2_wgmma: input not on CUDA)"] * 2
    assert "conv2 (checked batch, then one image): cuDNN (not conv2_wgmma: input not on CUDA); " in printed


def test_rewrites_keep_alexnet_exact_and_refuse_models_without_candidates():
    model = alexnet().eval().double()
    fast = rewrite_model(model)
    kinds = [type(m).__name__ for m in fast.features]
    # bias and ReLU moved into each pool, conv1 runs its ReLU and pool; conv3 and conv4 take theirs in (no pool follows)
    assert kinds == ["SpaceToDepthConv2d", "Identity", "Identity", "WgmmaConv2d", "MaxPool2d", "Identity",
                     "ConvReLU", "Identity", "ConvReLU", "Identity", "Conv2d", "MaxPool2d", "Identity"]
    assert fast.features[0].pools and "then max_pool 3x3 stride 2 and ReLU" in repr(fast.features[0])
    pool2, pool5 = fast.features[4], fast.features[11]
    assert type(pool2) is type(pool5) is MaxPool2d and pool2.relu and pool5.relu     # the Triton pool on CUDA
    assert torch.equal(pool2.bias, model.features[3].bias) and torch.equal(pool5.bias, model.features[10].bias)
    # the classifier flattens pool5's output: written in that order
    assert pool5.flatten_order and not pool2.flatten_order and "NCHW out" in repr(pool5)
    assert [fast.features[i].bias is None for i in (0, 3, 6, 8, 10)] == [False, True, False, False, True]
    assert [type(m).__name__ for m in fast.classifier] == ["Dropout", "LinearReLU", "Identity", "Dropout",
                                                           "LinearReLU", "Identity", "LinearReLU"]
    assert [fast.classifier[i].relu for i in (1, 4, 6)] == [True, True, False]
    assert type(fast.avgpool).__name__ == "SkipIdentityAdaptiveAvgPool2d"
    for size, batch in ((224, 2), (256, 2), (224, 1)):   # at 256 pixels the adaptive pool really pools
        x = torch.randn(batch, 3, size, size, dtype=torch.float64)
        torch.testing.assert_close(fast(x), model(x), rtol=0, atol=1e-10)
    with pytest.raises(UserError, match="nothing to rewrite"):
        rewrite_model(torch.nn.Sequential(torch.nn.Tanh()))


@pytest.mark.parametrize("pool, out_channels, after", [
    (torch.nn.MaxPool2d(3, 2), 8, ["Identity", "Identity"]),
    # another window: the pool stays its own layer, with the bias and ReLU
    (torch.nn.MaxPool2d(2, 2), 8, ["MaxPool2d", "Identity"]),
    # PyTorch's pool (the Triton one has no ceil mode or padding), then the bias and ReLU
    (torch.nn.MaxPool2d(3, 2, ceil_mode=True), 8, ["MaxPool2d", "BiasReLU"]),
    (torch.nn.MaxPool2d(3, 2, padding=1), 8, ["MaxPool2d", "BiasReLU"]),
    (torch.nn.MaxPool2d(3, 2), 4, ["MaxPool2d", "Identity"]),   # 2 x 4 channels do not fill the kernel's tiles
])
def test_a_strided_conv_takes_only_the_pool_its_kernel_can_run(pool, out_channels, after):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, out_channels, 11, stride=4, padding=2), torch.nn.ReLU(), pool)
    model = model.eval().double()
    fast = rewrite_model(model)
    assert [type(m).__name__ for m in fast][1:] == after
    assert fast[0].pools == (after[0] == "Identity")
    assert (fast[0].bias is None) == (after[0] != "Identity")     # the bias went to the pool or after it
    for batch, size in ((2, 67), (1, 64), (3, 40)):       # conv outputs 16, 15 and 9 wide
        x = torch.randn(batch, 3, size, size, dtype=torch.float64)
        torch.testing.assert_close(fast(x), model(x), rtol=0, atol=1e-10)


def test_bias_and_relu_after_pool_change_no_bit_of_a_half_precision_tensor():
    # rounding y + b is monotonic in y, so adding the bias after the max changes nothing
    y = torch.randn(2, 16, 27, 27, dtype=torch.bfloat16) * 4
    bias = torch.randn(16, dtype=torch.bfloat16)
    pool = torch.nn.MaxPool2d(3, 2)
    expected = pool(torch.relu(y + bias.view(1, -1, 1, 1)))
    assert torch.equal(BiasReLU(bias)(pool(y)), expected)
    assert torch.equal(MaxPool2d.of(pool, bias, relu=True)(y), expected)    # off CUDA: PyTorch's steps


def test_compile_with_cuda_graphs_is_one_execution_and_refuses_self_graphing_modes():
    assert Mode(execution="compile+cuda-graphs").compiled and Mode(execution="compile+cuda-graphs").graphed
    assert Mode(execution="compile+cuda-graphs").label() == "fp32 contiguous compile:default+cuda-graphs"
    with pytest.raises(UserError, match="already captures CUDA graphs"):
        check_mode(Mode(execution="compile+cuda-graphs", compile_mode="reduce-overhead"), torch.device("cuda"))
    common = dict(precisions=["fp16"], channels_last=True, amp=False, rewrite=False, executions=None,
                  device=torch.device("cuda"))
    one = modes_for(compile_mode="default", cuda_graphs=True, sweep=False, **common)
    assert [m.execution for m in one] == ["compile+cuda-graphs"]
    grid = modes_for(compile_mode="max-autotune", cuda_graphs=False, sweep=True, **common)
    assert [m.execution for m in grid] == ["eager", "compile", "cuda-graphs"]


OOM_DRIVER = """
import resource, runpy, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _address_space_now() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS caps memory on Linux")
def test_out_of_memory_cell_is_recorded_and_others_survive(tmp_path):
    """A real allocation failure: the process may map only ~3 GiB more than torch itself needs."""
    limit = _address_space_now() + 3 * 2**30
    out = tmp_path / "out"
    script = REPO_ROOT / "alexnet" / "alexnet_benchmark.py"
    result = subprocess.run([sys.executable, "-c", OOM_DRIVER, str(limit), str(script), "--sweep",
                             "--batch-sizes", "2,4096", "--num-batches", "1", "--output-dir", str(out), *CPU_FAST],
                            capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {int(r["batch_size"]): r for r in csv.DictReader(next(out.glob("*.csv")).open())
            if r["memory_format"] == "contiguous"}
    assert rows[4096]["status"] == "oom"
    assert rows[2]["status"] == "ok" and float(rows[2]["model_images_per_second"]) > 0


def test_single_run_out_of_memory_says_what_to_lower(tmp_path):
    limit = _address_space_now() + 3 * 2**30
    script = REPO_ROOT / "alexnet" / "alexnet_benchmark.py"
    result = subprocess.run([sys.executable, "-c", OOM_DRIVER, str(limit), str(script), "--synthetic",
                             "--batch-size", "4096", "--num-batches", "1", "--output-dir", str(tmp_path), *CPU_FAST],
                            capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert result.returncode == 3
    assert "lower the batch size (try 2048)" in result.stderr and "Traceback" not in result.stderr


def test_sweep_on_real_data_reports_accuracy_and_its_change_from_fp32(tmp_path, known_answer_weights):
    weights, ranking = known_answer_weights
    data = make_image_folder(tmp_path / "d", {WNIDS[ranking[0]]: 2, WNIDS[ranking[4]]: 2, WNIDS[1]: 2})
    out = tmp_path / "out"
    assert run_main("--sweep", "--data-path", data, "--precision", "fp32,bf16", "--batch-sizes", "2,3",
                    "--num-batches", 0, "--output-dir", out, *[a for a in CPU_FAST if a not in ("--weights", "none")],
                    "--weights", weights) == 0
    rows = list(csv.DictReader(next(out.glob("*.csv")).open()))
    assert len(rows) == 8
    for row in rows:   # bias-only logits survive bf16 rounding: the same answers in every mode
        assert float(row["top1_accuracy"]) == pytest.approx(2 / 6) and float(row["top5_accuracy"]) == pytest.approx(4 / 6)
        assert float(row["top1_delta_vs_fp32"]) == 0 and float(row["top5_delta_vs_fp32"]) == 0
        assert float(row["end_to_end_images_per_second"]) > 0


def test_compile_time_is_reported_apart_from_latency(tmp_path):
    out = tmp_path / "out"
    assert run_main("--synthetic", "--compile", "--batch-size", 2, "--num-batches", 3, "--output-dir", out,
                    *CPU_FAST) == 0
    result = json.loads(next(out.glob("*.json")).read_text())
    assert result["execution"] == "compile" and result["compile_mode"] == "default"
    assert result["compile_options"] == {}     # the default mode's own; dependent launch is for CUDA only
    assert result["compile_time_s"] > 0
    # the first call compiles for seconds; no timed batch may contain it
    assert result["max_batch_time"] < result["compile_time_s"] / 2
