"""Issue #14's table, case by case: nothing lost, nothing written outside, nothing silently inflated.

(The hostile devkit and CSV cases are in test_setup_imagenet.py, the directory link loop in
test_benchmark.py.)
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import alexnet_ai
import alexnet_benchmark
from cnnbench.errors import REPO_ROOT
from cnnbench.intensity import measure_cpu_flops
from cnnbench.results import RunFiles

SYNTHETIC_CPU = ["--device", "cpu", "--synthetic", "--weights", "none", "--warmup", "1", "--quiet",
                 "--batch-size", "2", "--num-batches", "2"]


def benchmark(*argv) -> int:
    return alexnet_benchmark.main(alexnet_benchmark.get_args_parser().parse_args([str(a) for a in argv]))


@pytest.mark.parametrize("make_target", [lambda tmp: tmp / "a_file", lambda tmp: "/proc/cnnbench-results"],
                         ids=["a file", "a read-only place"])
def test_an_output_folder_that_cannot_take_results_fails_before_any_work(tmp_path, capsys, make_target):
    target = make_target(tmp_path)
    if target == tmp_path / "a_file":
        target.write_text("not a folder")
    started = time.perf_counter()
    assert benchmark(*SYNTHETIC_CPU, "--output-dir", target) == 2
    printed = capsys.readouterr()
    assert "cannot write results to" in printed.err and "Benchmarking" not in printed.out
    assert time.perf_counter() - started < 5


def test_runs_in_the_same_second_and_folder_keep_both_results(tmp_path):
    first, second = RunFiles(tmp_path, "alexnet_synthetic"), RunFiles(tmp_path, "alexnet_synthetic")
    assert str(os.getpid()) in first.stem and first.stem != second.stem
    first.write_text(".json", "{}")
    second.write_text(".json", "{}")      # the second run's result is not thrown away
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_a_failed_run_leaves_none_of_its_files(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunFiles(tmp_path, "profiler_results") as files:
            files.write_text("_bs4.trace.json", "{}")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_profiler_interrupted_mid_run_leaves_no_trace_behind(tmp_path):
    command = [sys.executable, str(REPO_ROOT / "alexnet" / "alexnet_profiler.py"), "--device", "cpu", "--synthetic",
               "--weights", "none", "--batch-sizes", "1,48", "--steps", "4", "--output-dir", str(tmp_path)]
    # A shell starts background jobs with SIGINT ignored, and a child keeps that (Python then never
    # raises KeyboardInterrupt): with a handler here, the child starts with the default disposition.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, before)
    deadline = time.time() + 240
    while not list(tmp_path.glob("*_bs1.trace.json")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the profiler finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("flags", [["--peak-tflops", "0"], ["--peak-gbps", "-1"], ["--peak-tflops", "inf"]])
def test_roofline_peaks_must_be_positive(flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        alexnet_ai.get_args_parser().parse_args(flags)
    assert exit_.value.code == 2 and "positive" in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [(["--data-path", "/nonexistent"], "without them no input is read"),
                                           (["--measure", "--data-path", "/nonexistent"], "no such directory")])
def test_roofline_data_path_is_checked(tmp_path, capsys, flags, message):
    args = alexnet_ai.get_args_parser().parse_args(["--device", "cpu", "--output-dir", str(tmp_path), *flags])
    assert alexnet_ai.main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [(["--decode", "gpu"], "--decode does nothing on synthetic input"),
                                           (["--workers", "3"], "--workers does nothing on synthetic input"),
                                           (["--executions", "eager"], "without --sweep")])
def test_flags_that_do_nothing_are_refused(tmp_path, capsys, flags, message):
    assert benchmark(*SYNTHETIC_CPU, "--output-dir", tmp_path, *flags) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_share_outside_zero_to_one_is_refused(capsys):
    with pytest.raises(SystemExit):
        alexnet_benchmark.get_args_parser().parse_args(["--gpu-decode-share", "7"])
    assert "between 0 and 1" in capsys.readouterr().err


def test_low_precision_on_the_cpu_says_so_and_shows_warm_up(tmp_path, capsys):
    argv = [a for a in SYNTHETIC_CPU if a != "--quiet"]
    assert benchmark(*argv, "--precision", "bf16", "--output-dir", tmp_path) == 0
    printed = capsys.readouterr()
    assert "bf16 on the CPU runs through slow kernels" in printed.out and "warm-up (batch 2)" in printed.err


def test_cpu_compute_ceiling_is_stable_and_takes_the_layers_path():
    measured = [measure_cpu_flops(torch.bfloat16) for _ in range(2)]
    rates = [rate for rate, _ in measured]
    assert max(rates) / min(rates) < 2          # was 37-99 GFLOP/s between runs from 3 timed matmuls
    assert f"({torch.get_num_threads()} threads)" in measured[0][1]
    assert min(rates) > 1e9                     # bf16 matmul alone measured 0.27 GFLOP/s here


def test_no_gpu_error_text_on_a_cpu_machine(tmp_path):
    done = subprocess.run([sys.executable, str(REPO_ROOT / "alexnet" / "alexnet_profiler.py"), "--device", "cpu",
                           "--synthetic", "--weights", "none", "--batch-sizes", "1", "--steps", "1", "--warmup", "1",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0
    assert "gpuGetDeviceCount" not in done.stderr and "ERROR" not in done.stderr
    assert "on cpu" in done.stdout


def test_a_users_runs_are_ignored_by_git_and_the_reference_set_is_not():
    paths = ["results/alexnet/alexnet_synthetic_20261129_120000_1.json", "results/alexnet/profiler_results.txt",
             "results/resnet50/x.png", "results/alexnet/h200/README.md"]
    done = subprocess.run(["git", "check-ignore", *paths], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.stdout.split() == paths[:3]
