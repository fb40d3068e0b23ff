"""The benchmark end to end on the CPU: accuracy, data handling, bad input and result files."""

import json
import socket
import subprocess
import sys
import time

import pytest
from PIL import Image

import torch

import alexnet_benchmark
import cnnbench.data
from cnnbench.device import BusySampler
from cnnbench.errors import REPO_ROOT
from conftest import WNIDS, make_image_folder, read_single_json

CPU_FAST = ["--device", "cpu", "--warmup", "1", "--quiet"]
ONE_PROCESS = ["--workers", "0"]    # data read in the main process: fast to start in a test


def run_main(*argv) -> int:
    args = alexnet_benchmark.get_args_parser().parse_args([str(a) for a in argv])
    return alexnet_benchmark.main(args)


def test_known_answers_give_exact_top1_top5(tmp_path, known_answer_weights):
    weights, ranking = known_answer_weights
    # 3 images of the top class, 2 of the third-ranked, 4 of a class outside the top 5.
    counts = {WNIDS[ranking[0]]: 3, WNIDS[ranking[2]]: 2, WNIDS[123]: 4}
    data = make_image_folder(tmp_path / "imagenet" / "val", counts)
    out = tmp_path / "out"
    assert run_main("--data-path", data.parent, "--weights", weights, "--batch-size", 4,
                    "--num-batches", 0, "--output-dir", out, *CPU_FAST, *ONE_PROCESS) == 0
    result = read_single_json(out)
    assert result["total_images"] == 9
    assert result["top1_accuracy"] == pytest.approx(3 / 9)
    assert result["top5_accuracy"] == pytest.approx(5 / 9)
    assert result["avg_accuracy"] == pytest.approx(3 / 9)       # the original's key: top-1 per image
    assert result["data"] == "imagenet" and result["data_info"]["scored_images"] == 9
    assert result["data_info"]["resize"] is None          # the cpu path resizes with Pillow
    assert len(result["batch_times_ms"]) == 3                   # 9 images in batches of 4: 4, 4 and the last 1


def test_labels_are_imagenet_indices_not_folder_ranks(tmp_path):
    make_image_folder(tmp_path / "wnid", {WNIDS[999]: 1, WNIDS[1]: 1, WNIDS[500]: 1})
    dataset = cnnbench.data.ImageNetFolder(str(tmp_path / "wnid"))
    assert sorted(target for _, target in dataset.samples) == [1, 500, 999]
    make_image_folder(tmp_path / "v2", {"0": 1, "17": 1, "999": 1})
    dataset = cnnbench.data.ImageNetFolder(str(tmp_path / "v2"))
    assert sorted(target for _, target in dataset.samples) == [0, 17, 999]


def test_unknown_class_folder_is_a_clear_error(tmp_path):
    make_image_folder(tmp_path / "val", {"cats": 1})
    assert run_main("--data-path", tmp_path, *CPU_FAST, *ONE_PROCESS, "--output-dir", tmp_path / "o") == 2


def test_seeded_subset_spans_classes_and_is_reproducible():
    per_class, classes = 50, 20   # a class-sorted set, as ImageFolder lists it
    labels = [i // per_class for i in range(per_class * classes)]
    subset = cnnbench.data.choose_indices(len(labels), 100, seed=0)
    assert len(subset) == len(set(subset)) == 100
    assert len({labels[i] for i in subset}) >= 15           # the first 100 would cover 2 classes
    assert subset == cnnbench.data.choose_indices(len(labels), 100, seed=0)
    assert subset != cnnbench.data.choose_indices(len(labels), 100, seed=1)
    assert cnnbench.data.choose_indices(len(labels), 0, seed=0) == list(range(len(labels)))


def test_subset_size_is_reported(tmp_path, known_answer_weights):
    weights, _ = known_answer_weights
    data = make_image_folder(tmp_path / "d", {WNIDS[i]: 3 for i in range(4)})
    out = tmp_path / "out"
    assert run_main("--data-path", data, "--weights", weights, "--batch-size", 2, "--num-batches", 2,
                    "--output-dir", out, *CPU_FAST, *ONE_PROCESS) == 0
    result = read_single_json(out)
    assert result["total_images"] == 4
    assert "random subset of 4 of 12 images" in result["data_info"]["scored"]


def test_a_batch_larger_than_the_data_says_it_is_one_smaller_batch(tmp_path, capsys):
    data = make_image_folder(tmp_path / "d", {WNIDS[0]: 2, WNIDS[1]: 1})
    out = tmp_path / "out"
    assert run_main("--data-path", data, "--weights", "none", "--batch-size", 8, "--num-batches", 0,
                    "--output-dir", out, *CPU_FAST, *ONE_PROCESS) == 0
    assert "NOTE: batch size 8 is more than the 3 images to score: each such pass is one batch of 3" in \
        capsys.readouterr().out
    result = read_single_json(out)
    assert result["total_images"] == 3 and len(result["batch_times_ms"]) == 1


def test_empty_default_path_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cnnbench.data, "DEFAULT_DATA_PATH", tmp_path / "nothing_here")
    out = tmp_path / "out"
    assert run_main("--weights", "none", "--batch-size", 2, "--num-batches", 3, "--output-dir", out, *CPU_FAST) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC DATA" in printed.splitlines()[0]
    result = read_single_json(out)
    assert result["data"] == "synthetic"
    assert result["top1_accuracy"] is None and result["top5_accuracy"] is None
    assert result["total_images"] == 6 and len(result["batch_times_ms"]) == 3
    # the synthetic pass is sampled too: the cores' share; off CUDA no GPU figures and no GPU line
    assert 0 < result["cpu_busy_percent"] <= 100 and result["nvml_readings"] == 0
    assert result["gpu_energy_j"] is None and result["images_per_gpu_joule"] is None
    assert "Throughput (model only)" in printed and "GPU over the timed pass" not in printed


def test_result_files_are_complete_and_never_overwritten(tmp_path):
    out = tmp_path / "out"
    started = time.perf_counter()
    for _ in range(2):
        assert run_main("--synthetic", "--weights", "none", "--batch-size", 2, "--num-batches", 2,
                        "--output-dir", out, *CPU_FAST) == 0
    wall_s = time.perf_counter() - started
    jsons, pngs = sorted(out.glob("*.json")), sorted(out.glob("*.png"))
    assert len(jsons) == 2 and len(pngs) == 2
    result = json.loads(jsons[0].read_text())
    original_keys = {"model", "device", "total_images", "total_time", "images_per_second", "avg_batch_time",
                     "std_batch_time", "min_batch_time", "max_batch_time", "avg_accuracy"}
    extra_keys = {"top1_accuracy", "top5_accuracy", "batch_time_ms_p50", "batch_time_ms_p90",
                  "batch_time_ms_p99", "model_images_per_second", "end_to_end_images_per_second",
                  "config", "environment", "weights", "data_info"}
    assert original_keys | extra_keys <= result.keys()
    assert result["min_batch_time"] <= result["avg_batch_time"] <= result["max_batch_time"]
    # 4 images timed in each run: the model-only rate cannot be below 4 images over the whole call's wall clock
    assert result["total_images"] == 4 and result["images_per_second"] >= 4 / wall_s
    assert result["config"]["batch_size"] == 2 and result["environment"]["torch"]
    assert result["environment"]["tf32_matmul"] is False
    with Image.open(pngs[0]) as png:
        assert png.format == "PNG" and png.size[0] > 600
    assert not list(out.glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("argv, message", [
    (["--data-path", "/no/such/dir"], "setup_imagenet.sh"),
    (["--model", "alexnot"], "did you mean alexnet"),
    (["--weights", "/no/such/weights.pth"], "no such file"),
    (["--cuda-graphs", "--synthetic"], "need a CUDA device"),
    (["--precision", "tf32", "--synthetic"], "only on CUDA"),
    (["--precision", "fp32,bf16", "--synthetic"], "one value"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, argv, message):
    assert run_main(*argv, "--output-dir", tmp_path, *CPU_FAST) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_empty_dataset_dir_is_an_error(tmp_path, capsys):
    (tmp_path / "val" / WNIDS[0]).mkdir(parents=True)
    assert run_main("--data-path", tmp_path, "--weights", "none", "--output-dir", tmp_path / "o", *CPU_FAST, *ONE_PROCESS) == 2
    assert "no images" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_image_is_named(tmp_path, capsys, known_answer_weights, workers):
    weights, _ = known_answer_weights
    data = make_image_folder(tmp_path / "d", {WNIDS[0]: 2, WNIDS[1]: 2})
    bad = data / WNIDS[1] / "broken.JPEG"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    args = ["--data-path", data, "--weights", weights, "--num-batches", 0, "--batch-size", 2,
            "--output-dir", tmp_path / "o", *CPU_FAST, "--workers", workers]
    assert run_main(*args) == 2
    assert str(bad) in capsys.readouterr().err
    assert run_main(*args, "--skip-bad-images") == 0
    result = read_single_json(tmp_path / "o")
    assert result["skipped_bad_images"] == 1 and result["total_images"] == 4


def test_accuracy_run_without_weights_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    def offline(*_, **__):
        raise socket.gaierror("offline")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # an empty cache
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    data = make_image_folder(tmp_path / "d", {WNIDS[0]: 1})
    assert run_main("--data-path", data, "--output-dir", tmp_path / "o", *CPU_FAST, *ONE_PROCESS) == 2
    err = capsys.readouterr().err
    assert "local weight file" in err and "alexnet-owt" in err


def test_script_exits_nonzero_without_traceback_on_missing_data(tmp_path):
    """As a user runs it: a subprocess, one line on stderr, exit code 2."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "alexnet" / "alexnet_benchmark.py"),
                             "--data-path", str(tmp_path / "missing"), "--device", "cpu"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: data path") and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["--batch-size", "0"], ["--bogus-flag"], ["--precision", "fp64"],
                                  ["--batch-sizes", "8,x"]])
def test_bad_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        alexnet_benchmark.get_args_parser().parse_args(argv)
    assert exit_info.value.code == 2


def test_a_directory_link_back_into_the_tree_counts_nothing_twice(tmp_path, known_answer_weights, capsys):
    weights, ranking = known_answer_weights
    data = make_image_folder(tmp_path / "val", {WNIDS[ranking[0]]: 4, WNIDS[123]: 4})
    (data / WNIDS[ranking[0]] / "loop").symlink_to("..", target_is_directory=True)
    (data / WNIDS[123] / "again").symlink_to(data / WNIDS[123], target_is_directory=True)
    out = tmp_path / "out"
    assert run_main("--data-path", data, "--weights", weights, "--batch-size", 3, "--num-batches", 0,
                    "--output-dir", out, *CPU_FAST, *ONE_PROCESS) == 0
    result = read_single_json(out)
    assert result["total_images"] == 8 and result["top1_accuracy"] == pytest.approx(0.5)
    assert len(result["data_info"]["skipped_directory_links"]) == 2
    assert "were not followed" in capsys.readouterr().out


def test_one_file_in_two_classes_is_refused(tmp_path, capsys):
    data = make_image_folder(tmp_path / "val", {WNIDS[1]: 2, WNIDS[2]: 1})
    (data / WNIDS[2] / "twin.jpeg").symlink_to(next((data / WNIDS[1]).iterdir()))
    assert run_main("--data-path", data, "--weights", "none", "--output-dir", tmp_path / "o", *CPU_FAST, *ONE_PROCESS) == 2
    assert "one label only" in capsys.readouterr().err


def test_busy_sampler_tells_a_busy_core_from_an_idle_one():
    def busy_over(work) -> dict:
        with BusySampler(torch.device("cpu")) as busy:
            started = time.perf_counter()
            while time.perf_counter() - started < 0.5:
                work()
        return busy.summary()
    spinning, sleeping = busy_over(lambda: None), busy_over(lambda: time.sleep(0.05))
    # one spinning thread keeps one more of the cores busy throughout (whatever else the machine runs)
    assert spinning["cpu_busy_percent"] - sleeping["cpu_busy_percent"] >= 0.5 * 100 / spinning["cpu_cores"]
    assert spinning["gpu_kernel_busy_percent"] is None and spinning["nvml_readings"] == 0   # no GPU on a CPU device
