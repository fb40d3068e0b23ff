"""Decode paths on generated JPEGs: same predictions as PIL, stall fraction recorded, bad files named."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torchvision.models import AlexNet_Weights, alexnet

import alexnet_benchmark
from cnnbench.benchmark import cell_metrics, evaluate
from cnnbench.errors import REPO_ROOT
from cnnbench.data import LoaderStart, make_loader, open_dataset
from cnnbench.gpu_decode import DecodeOnDevice
from cnnbench.batches import DeviceFeeder, collate_samples
from cnnbench.fidelity import prediction_agreement
from cnnbench.preprocess import Preprocess
from cnnbench.modes import Mode, Runner
from conftest import read_single_json

# torchvision.io (libjpeg-turbo) and PIL decode the same files to within rounding, and resize with the
# same antialiased bilinear filter; on these images one random model's top-1 classes (of centred
# logits, see decode.prediction_agreement) must agree this often.
CPU_PATH_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    out = tmp_path_factory.mktemp("jpegs")
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "make_jpegs.py"), str(out), "--count", "40",
                    "--classes", "4"], check=True, capture_output=True, timeout=300)
    return out


def predictions(root, decode, workers=0):
    transforms = AlexNet_Weights.DEFAULT.transforms()
    dataset = open_dataset(root, transforms, decode)
    torch.manual_seed(0)
    runner = Runner(alexnet().eval(), Mode(), torch.device("cpu"))
    feeder = DeviceFeeder(torch.device("cpu"), Preprocess.from_transforms(transforms), normalized_crops=decode == "pil")
    raw = evaluate(runner, dataset, list(range(len(dataset))), 8, workers, 1, feeder, progress=False,
                   keep_logits=True)
    return raw["logits"], raw


def test_cpu_decode_predicts_like_pil(jpegs):
    pil, _ = predictions(jpegs, "pil")
    cpu, raw = predictions(jpegs, "cpu")
    agreement = prediction_agreement(pil, cpu)
    assert agreement["images"] == 40 and agreement["distinct_classes"] >= 20   # not one class for all
    assert agreement["top1_agreement"] >= CPU_PATH_AGREEMENT
    assert len(raw["data_wait_s"]) == len(raw["prepare_s"]) == len(raw["loader_wait_s"]) == 5


def test_preprocessing_matches_the_weights_transform(jpegs):
    """Pixels, not just predictions: the cpu path's crop is PIL's within JPEG-decoder rounding."""
    transforms = AlexNet_Weights.DEFAULT.transforms()
    pil = open_dataset(jpegs, transforms, "pil")
    cpu = open_dataset(jpegs, transforms, "cpu")
    feeder = DeviceFeeder(torch.device("cpu"), Preprocess.from_transforms(transforms), normalized_crops=False)
    reference = collate_samples([pil[i] for i in range(4)]).crops
    ours, _ = feeder(collate_samples([cpu[i] for i in range(4)]))
    assert ours.shape == reference.shape == (4, 3, 224, 224)
    assert (ours - reference).abs().mean().item() < 0.05   # normalized units: ~3 grey levels of 255


@pytest.mark.parametrize("decode", ["pil", "cpu"])
def test_stall_fraction_and_decoder_are_in_the_json(jpegs, tmp_path, decode):
    args = alexnet_benchmark.get_args_parser().parse_args(
        ["--data-path", str(jpegs), "--weights", "none", "--device", "cpu", "--decode", decode, "--workers", "2",
         "--batch-size", "8", "--num-batches", "0", "--warmup", "1", "--quiet", "--output-dir", str(tmp_path)])
    assert alexnet_benchmark.main(args) == 0
    result = read_single_json(tmp_path)
    assert 0 <= result["stall_fraction"] <= 1 and 0 <= result["loader_wait_fraction"] <= 1
    assert result["startup_time_s"] > 0
    assert result["data_info"]["decode"] == decode and result["data_info"]["workers"] == 2
    assert result["end_to_end_images_per_second"] <= result["model_images_per_second"]
    assert result["total_images"] == 40


@pytest.mark.parametrize("decode", ["pil", "cpu"])
def test_corrupt_jpeg_is_named_on_every_path(jpegs, tmp_path, capsys, decode):
    data = tmp_path / "data"
    subprocess.run(["cp", "-r", str(jpegs), str(data)], check=True)
    victim = sorted(data.glob("*/*.JPEG"))[5]
    victim.write_bytes(victim.read_bytes()[:300])        # a truncated JPEG
    args = ["--data-path", str(data), "--weights", "none", "--device", "cpu", "--decode", decode,
            "--workers", "2", "--batch-size", "8", "--num-batches", "0", "--warmup", "1", "--quiet",
            "--output-dir", str(tmp_path / "out")]
    parse = alexnet_benchmark.get_args_parser().parse_args
    assert alexnet_benchmark.main(parse(args)) == 2
    assert str(victim) in capsys.readouterr().err
    assert alexnet_benchmark.main(parse(args + ["--skip-bad-images"])) == 0
    assert read_single_json(tmp_path / "out")["skipped_bad_images"] == 1


def test_gpu_decode_without_cuda_is_a_clear_error(jpegs, tmp_path, capsys):
    args = alexnet_benchmark.get_args_parser().parse_args(
        ["--data-path", str(jpegs), "--weights", "none", "--device", "cpu", "--decode", "gpu",
         "--output-dir", str(tmp_path)])
    assert alexnet_benchmark.main(args) == 2
    assert "GPU JPEG decoding needs a CUDA device" in capsys.readouterr().err


def test_gpu_path_workers_decode_in_batch_order(jpegs):
    """The gpu path end to end on the CPU: workers from the fork server decode each batch in one
    call (nvjpeg on a CPU device is libjpeg-turbo through the same call), in batch order."""
    pil, _ = predictions(jpegs, "pil")
    gpu_path, raw = predictions(jpegs, "nvjpeg", workers=2)   # nvjpeg on a CPU device: libjpeg-turbo, batched
    agreement = prediction_agreement(pil, gpu_path)
    assert agreement["images"] == 40 and agreement["top1_agreement"] >= CPU_PATH_AGREEMENT
    assert raw["startup_s"] > 0
    startup = raw["startup_breakdown"]     # each worker's initialisation, step by step
    steps = [startup[f"worker_{step}_max"] for step in ("context_s", "decoder_s", "resize_s")]
    assert startup["workers_reporting"] == 2 and 0 <= min(steps) and max(steps) <= startup["worker_init_s_max"]
    # a first batch is done after its worker started and reaches the main process before start-up ends
    assert startup["last_worker_started_s"] < startup["last_first_batch_done_s"] < raw["startup_s"]
    assert 0 <= startup["first_batch_delivery_s_max"] < raw["startup_s"]
    cell = cell_metrics(raw, measured_accuracy=True)     # where the workers' time went, batch by batch
    stages = cell["worker_stage_ms_per_batch"]
    assert {"fetch", "collate", "decode", "resize", "device_wait"} <= set(stages) and min(stages.values()) >= 0
    # two workers busy at most the whole window: they could deliver no less than was delivered
    assert cell["loader_capacity_images_per_second"] >= cell["end_to_end_images_per_second"]
    # the cores were busy decoding; NVML's figures are the GPU's: on a CPU device there are none
    assert 0 < cell["cpu_busy_percent"] <= 100 and cell["cpu_cores"] == len(os.sched_getaffinity(0))
    assert cell["gpu_kernel_busy_percent"] is None and cell["jpeg_decoder_busy_percent"] is None
    assert cell["nvml_readings"] == 0


@pytest.mark.parametrize("workers", [0, 2])
def test_the_loaders_warm_up_is_one_batch_per_worker_and_later_passes_are_whole(jpegs, workers):
    """DataLoader's multiprocessing iterator calls iter() on its sampler twice as it starts; the
    warm-up pass must still be one batch per worker, not a whole pass."""
    dataset = open_dataset(jpegs, AlexNet_Weights.DEFAULT.transforms(), "cpu")
    loader = make_loader(dataset, list(range(40)), 8, workers, torch.device("cpu"))
    assert [len(batch.labels) for batch in loader] == [8] * max(workers, 1)
    loader.batch_sampler.warm_up_done()
    assert len(loader) == 5 and [len(batch.labels) for batch in loader] == [8] * 5


def test_loader_start_ends_the_warm_up(jpegs):
    dataset = open_dataset(jpegs, AlexNet_Weights.DEFAULT.transforms(), "cpu")
    loader = make_loader(dataset, list(range(36)), 8, 2, torch.device("cpu"))
    reports, startup_s, _ = LoaderStart(loader).wait()
    assert len(reports) == 2 and startup_s > 0
    assert sorted(len(batch.labels) for batch in loader) == [4, 8, 8, 8, 8]


class SlowFirstSample(torch.utils.data.Dataset):
    """Four one-pixel crops labelled by their index; the first takes half a second to load."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index == 0:
            time.sleep(0.5)
        return "crop", torch.zeros(3, 1, 1, dtype=torch.uint8), index


def test_a_slow_batch_does_not_hold_back_the_others():
    """Batches come back as workers finish them: the worker behind a slow batch holds back only itself."""
    loader = make_loader(SlowFirstSample(), list(range(4)), 1, 2, torch.device("cpu"))
    list(loader)     # the warm-up pass
    loader.batch_sampler.warm_up_done()
    labels = [batch.labels[0] for batch in loader]    # worker 0 has batches 0 and 2, worker 1 has 1 and 3
    assert sorted(labels) == [0, 1, 2, 3] and labels[:2] == [1, 3]


def test_the_worker_server_starts_before_torch_is_imported():
    """The benchmark script starts the gpu paths' fork server before its own imports, so the
    server's imports overlap them; that holds only while starting it imports nothing heavy."""
    code = ("import sys; from cnnbench.worker_server import start_worker_server; start_worker_server(); "
            "heavy = sorted({'torch', 'numpy', 'torchvision'} & set(sys.modules)); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


WORKER_IMPORTS = """
import sys
sys.path.insert(0, sys.argv[1])
from cnnbench.worker_server import cuda_capable_workers, start_worker_server


def package_file(_):
    import cnnbench.gpu_decode
    return cnnbench.gpu_decode.__file__


if __name__ == "__main__":
    start_worker_server()
    with cuda_capable_workers().Pool(1) as pool:
        print(pool.map(package_file, [0])[0])
"""


def test_gpu_path_workers_run_this_package_from_a_directory_that_holds_another(tmp_path):
    """The gpu paths' workers come from the fork server; run from a directory holding another
    checkout's cnnbench, they must still run the script's own."""
    decoy = tmp_path / "cnnbench"
    decoy.mkdir()
    for name in ("__init__.py", "data.py", "gpu_decode.py"):
        (decoy / name).write_text("")
    script = tmp_path / "scripts" / "workers.py"
    script.parent.mkdir()
    script.write_text(WORKER_IMPORTS)
    done = subprocess.run([sys.executable, str(script), str(REPO_ROOT)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == REPO_ROOT / "cnnbench" / "gpu_decode.py"


def test_gpu_split_batches_keep_their_order(jpegs):
    """The gpu path's worker side, run on the CPU: half the images arrive as bytes, half as crops."""
    transforms = AlexNet_Weights.DEFAULT.transforms()
    prep = Preprocess.from_transforms(transforms)
    samples = [open_dataset(jpegs, transforms, "nvjpeg", 0.5)[i] for i in range(16)]
    assert 0 < sum(kind == "encoded" for kind, _, _ in samples) < 16
    feeder = DeviceFeeder(torch.device("cpu"), prep, normalized_crops=False)
    images, labels = feeder(DecodeOnDevice("cpu", prep, "nvjpeg")(samples))
    pil = open_dataset(jpegs, transforms, "pil")
    reference = collate_samples([pil[i] for i in range(16)])
    assert labels.tolist() == [pil.samples[i][1] for i in range(16)]
    assert (images - reference.crops).abs().mean().item() < 0.05


def test_files_left_for_the_gpu_that_cannot_be_decoded_are_named(jpegs, tmp_path):
    """The gpu path's reading and per-image fallback, run on the CPU: every image goes that way."""
    folder = tmp_path / "data" / next(p.name for p in jpegs.iterdir())
    folder.mkdir(parents=True)
    for source in sorted(jpegs.rglob("*.JPEG"))[:3]:
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "broken.JPEG").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "empty.JPEG").write_bytes(b"")
    transforms = AlexNet_Weights.DEFAULT.transforms()
    dataset = open_dataset(tmp_path / "data", transforms, "nvjpeg", 1.0)
    prep = Preprocess.from_transforms(transforms)
    batch = DecodeOnDevice("cpu", prep, "nvjpeg")([dataset[i] for i in range(len(dataset))])
    images, labels = DeviceFeeder(torch.device("cpu"), prep, normalized_crops=False)(batch)
    assert sorted(Path(b.path).name for b in batch.bad) == ["broken.JPEG", "empty.JPEG"]
    assert images.shape == (3, 3, 224, 224)
    assert labels.tolist() == [dataset.samples[0][1]] * 3


@pytest.mark.parametrize("decode, gpu_share", [("cpu", 1.0), ("nvjpeg", 0.0)])
def test_an_empty_file_on_the_cpu_paths_is_named_with_a_plain_reason(jpegs, tmp_path, decode, gpu_share):
    folder = tmp_path / "data" / next(p.name for p in jpegs.iterdir())
    folder.mkdir(parents=True)
    (folder / "empty.JPEG").write_bytes(b"")
    dataset = open_dataset(tmp_path / "data", AlexNet_Weights.DEFAULT.transforms(), decode, gpu_share)
    kind, bad, _ = dataset[0]
    assert (kind, Path(bad.path).name, bad.reason) == ("bad", "empty.JPEG", "empty file")


def test_a_workers_files_read_back_exactly_as_its_buffer_grows_and_is_reused(tmp_path):
    """A gpu-path worker reads each batch's files into one buffer it keeps: a larger batch grows
    it, a smaller one reuses it, every file's view holds that file's bytes and nothing else, and
    an empty or missing file is a BadImage naming it."""
    read = DecodeOnDevice("cpu", Preprocess(), "nvjpeg")._read
    generator = torch.Generator().manual_seed(0)
    for batch, sizes in enumerate(([5, 300, 17], [400_000, 1, 900_000, 2], [3, 3], [2_000_000, 6000])):
        contents = [torch.randint(0, 256, (size,), generator=generator, dtype=torch.uint8).numpy().tobytes()
                    for size in sizes]
        paths = [tmp_path / f"{batch}_{index}" for index in range(len(sizes))]
        for path, content in zip(paths, contents):
            path.write_bytes(content)
        assert [view.numpy().tobytes() for view in read([str(path) for path in paths])] == contents
    (tmp_path / "empty").write_bytes(b"")
    files = read([str(tmp_path / "empty"), str(tmp_path / "0_1"), str(tmp_path / "missing")])
    assert [type(file).__name__ for file in files] == ["BadImage", "Tensor", "BadImage"]
    assert (Path(files[0].path).name, files[0].reason) == ("empty", "empty file")