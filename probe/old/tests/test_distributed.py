"""Several processes (torchrun, gloo on the CPU) score exactly the images one process scores."""

import os
import subprocess
import sys

import pytest

from cnnbench.data import default_workers
from cnnbench.errors import REPO_ROOT
from cnnbench.distributed import DistContext, shard
from conftest import WNIDS, make_image_folder, read_single_json


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_shards_are_disjoint_and_cover_everything(world_size):
    chosen = list(range(100, 111))   # 11 images: not divisible by any of these world sizes
    shards = [shard(chosen, DistContext(rank, world_size)) for rank in range(world_size)]
    flat = [i for part in shards for i in part]
    assert sorted(flat) == chosen and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("decode", ["cpu", "nvjpeg"])
def test_ranks_on_one_machine_share_its_cores_between_their_workers(monkeypatch, decode):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    alone, shared = default_workers(decode), default_workers(decode, processes_on_machine=4)
    assert (alone, shared) == ((15, 3) if decode == "cpu" else (8, 3))     # each rank: 4 cores, one its own


@pytest.mark.parametrize("script", ["alexnet_profiler.py", "alexnet_ai.py"])
def test_single_process_scripts_refuse_torchrun_in_one_line(script):
    """Under torchrun every rank would measure on the same device at once."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "alexnet" / script), "--device", "cpu"],
                            env={**os.environ, "WORLD_SIZE": "2"}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {script} measures one process") and "torchrun" in result.stderr


def _run(tmp_path, data, weights, out, nproc, quiet=True, extra=()):
    script = str(REPO_ROOT / "alexnet" / "alexnet_benchmark.py")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                "--standalone"] if nproc > 1 else [sys.executable]
    result = subprocess.run(launcher + [script, "--device", "cpu", "--data-path", str(data), "--weights", str(weights),
                                        "--batch-size", "2", "--num-batches", "0", "--workers", "0", "--warmup", "1",
                                        "--output-dir", str(out)] + ["--quiet"] * quiet + list(extra),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_single_json(out), result


def test_two_gloo_processes_match_one_on_an_uneven_split(tmp_path, known_answer_weights):
    weights, ranking = known_answer_weights
    # 11 images: ranks get 6 and 5; 4 top-1 hits, 4 more in the top 5, 3 misses
    data = make_image_folder(tmp_path / "d", {WNIDS[ranking[0]]: 4, WNIDS[ranking[3]]: 4, WNIDS[10]: 3})
    single, _ = _run(tmp_path, data, weights, tmp_path / "one", 1)
    double, result = _run(tmp_path, data, weights, tmp_path / "two", 2, quiet=False)
    assert single["total_images"] == double["total_images"] == 11
    assert single["top1_accuracy"] == double["top1_accuracy"] == pytest.approx(4 / 11)
    assert single["top5_accuracy"] == double["top5_accuracy"] == pytest.approx(8 / 11)
    assert double["world_size"] == 2 and sorted(r["total_images"] for r in double["per_rank"]) == [5, 6]
    assert double["aggregate_images_per_second"] > 0
    assert result.stdout.count("BENCHMARK RESULTS") == 1     # only rank 0 prints
    assert result.stderr.count("batches:   0%") == 1            # and shows progress
    assert len(list((tmp_path / "two").glob("*.json"))) == 1  # and writes


def test_counts_and_end_to_end_figures_cover_every_rank(tmp_path, known_answer_weights):
    weights, _ = known_answer_weights
    data = make_image_folder(tmp_path / "d", {WNIDS[0]: 3, WNIDS[1]: 2})
    for name in ("zy_broken.JPEG", "zz_broken.JPEG"):    # the last two of seven: one on each rank
        (data / WNIDS[1] / name).write_bytes(b"not an image")
    record, result = _run(tmp_path, data, weights, tmp_path / "two", 2, extra=["--skip-bad-images"])
    assert record["skipped_bad_images"] == 2 and record["total_images"] == 5
    # the end-to-end figure is every rank's images over one window, as the aggregate is, not rank 0's
    assert record["end_to_end_images_per_second"] * record["end_to_end_time_s"] == pytest.approx(5)
    assert "on 2 ranks (one wall-clock window)" in result.stdout


def test_a_failing_rank_brings_the_run_down_with_its_message(tmp_path, known_answer_weights):
    weights, _ = known_answer_weights
    data = make_image_folder(tmp_path / "d", {WNIDS[0]: 3, WNIDS[1]: 2})
    bad = data / WNIDS[1] / "zz_broken.JPEG"   # sorts last: one rank's shard, not the other's
    bad.write_bytes(b"not an image")
    script = str(REPO_ROOT / "alexnet" / "alexnet_benchmark.py")
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             script, "--device", "cpu", "--data-path", str(data), "--weights", str(weights),
                             "--batch-size", "2", "--num-batches", "0", "--workers", "0", "--warmup", "1", "--quiet",
                             "--output-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert str(bad) in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))
