"""The world's JPEGs on every CPU-runnable path: odd sizes, grey, CMYK, progressive, 4:4:4.

The gpu paths' logic (header sniffing, CPU fallback, batched resize of mixed sizes, batch order)
runs here with nvjpeg on a CPU device, which is libjpeg-turbo through the same batched call.
"""

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.models import AlexNet_Weights, EfficientNet_B0_Weights, alexnet
from torchvision.transforms import InterpolationMode
from torchvision.transforms._presets import ImageClassification

from cnnbench.batches import DeviceFeeder, collate_samples
from cnnbench.benchmark import evaluate
from cnnbench.data import open_dataset
from cnnbench.gpu_decode import DecodeOnDevice
from cnnbench.errors import REPO_ROOT
from cnnbench.jpeg_info import jpeg_info
from cnnbench.modes import Mode, Runner
from cnnbench.errors import UserError
from cnnbench.preprocess import Preprocess, resize_and_crop_on_cpu
from cnnbench.resample import resize_crop_batch
from conftest import BASELINE_ODDITIES, WNIDS, encode, photo, write_kinds

CPU = torch.device("cpu")
TRANSFORMS = AlexNet_Weights.DEFAULT.transforms()


KINDS = {
    "cmyk": lambda: encode(photo(333, 500, 1).convert("CMYK")),
    "gray": lambda: encode(photo(500, 375, 2).convert("L")),
    "progressive": lambda: encode(photo(640, 427, 3), progressive=True),
    "444": lambda: encode(photo(500, 500, 4), subsampling=0),
    "large": lambda: encode(photo(1400, 1050, 5)),
    "small": lambda: encode(photo(120, 90, 6)),
}


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    write_kinds(root / WNIDS[3], KINDS)
    return root


@pytest.fixture(scope="module")
def baseline_oddities(tmp_path_factory):
    root = tmp_path_factory.mktemp("oddities")
    write_kinds(root / WNIDS[5], BASELINE_ODDITIES)
    return root


def reference_grey(root) -> tuple:
    """PIL + the weights' transforms, back on the 0..255 scale, with the file names in dataset order."""
    pil = open_dataset(root, TRANSFORMS, "pil")
    crops = collate_samples([pil[i] for i in range(len(pil))]).crops
    std, mean = torch.tensor(TRANSFORMS.std).view(1, 3, 1, 1), torch.tensor(TRANSFORMS.mean).view(1, 3, 1, 1)
    return crops * std * 255 + mean * 255, [path for path, _ in pil.samples]


def test_headers_say_which_decoder_takes_a_file():
    kinds = {name: jpeg_info(make()) for name, make in KINDS.items()}
    assert [name for name, info in kinds.items() if not info.gpu_decodable] == ["cmyk", "progressive"]
    assert (kinds["cmyk"].components, kinds["gray"].components, kinds["progressive"].kind) == (4, 1, "progressive")
    assert (kinds["large"].width, kinds["large"].height) == (1400, 1050)
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    for data in (png.getvalue(), b"", b"\xff\xd8\xff", KINDS["small"]()[:20]):
        assert not jpeg_info(data).gpu_decodable
    # cut short, nvJPEG would fill in what PIL refuses; padded after its end, it is whole
    large = KINDS["large"]()
    assert not jpeg_info(large[:len(large) // 2]).gpu_decodable and not jpeg_info(large[:-2]).gpu_decodable
    assert jpeg_info(large + bytes(300)).gpu_decodable


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_mixed_sizes_resize_together_as_pil_does(interpolation):
    # sizes repeat, as ImageNet's do: the taps are shared, each image keeps its own pixels
    sizes = [(375, 500), (500, 333), (1050, 1400), (90, 120), (224, 224), (2000, 300), (257, 256), (375, 500)]
    images = [TF.pil_to_tensor(photo(w, h, i)) for i, (h, w) in enumerate(sizes)]
    prep = Preprocess(interpolation=interpolation)
    batched = resize_crop_batch(images, prep)
    for path, crops in (("batched", batched), ("cpu", [resize_and_crop_on_cpu(image, prep) for image in images])):
        difference = torch.cat([(crop.int() - TF.pil_to_tensor(TF.center_crop(TF.resize(
            TF.to_pil_image(image), 256, interpolation=InterpolationMode(interpolation)), 224)).int()).abs().flatten()
            for image, crop in zip(images, crops)]).float()
        if interpolation == "bilinear":
            assert difference.max().item() <= 1, path
        else:   # bicubic overshoots, and PIL clamps after whichever pass it runs first; the wrong filter is ~2 off
            assert difference.mean().item() < 0.25 and (difference > 1).float().mean().item() < 0.005, path


def test_the_weights_resize_filter_is_kept(odd_folder):
    assert Preprocess.from_transforms(TRANSFORMS).interpolation == "bilinear"
    assert Preprocess.from_transforms(EfficientNet_B0_Weights.DEFAULT.transforms()).interpolation == "bicubic"
    nearest = ImageClassification(crop_size=224, interpolation=InterpolationMode.NEAREST)
    with pytest.raises(UserError, match="--decode pil"):
        open_dataset(odd_folder, nearest, "cpu")
    assert open_dataset(odd_folder, nearest, "pil").prep.interpolation == "nearest"


def decoded_beside_reference(folder, decode) -> tuple:
    """(the decode path's crops of every file in one batch, on the 0..255 scale; PIL's; the batch)."""
    reference, _ = reference_grey(folder)
    dataset = open_dataset(folder, TRANSFORMS, decode)
    prep = Preprocess.from_transforms(TRANSFORMS)
    collate = DecodeOnDevice(CPU, prep, decode) if decode == "nvjpeg" else collate_samples
    batch = collate([dataset[i] for i in range(len(dataset))])
    feeder = DeviceFeeder(CPU, prep, normalized_crops=False)
    images, _ = feeder(batch)
    return images * feeder.std + feeder.mean, reference, batch


@pytest.mark.parametrize("decode", ["cpu", "nvjpeg"])
def test_cmyk_grey_and_progressive_in_one_batch_match_pil(odd_folder, decode):
    grey, reference, batch = decoded_beside_reference(odd_folder, decode)
    assert grey.shape == reference.shape == (len(KINDS), 3, 224, 224)
    assert (grey - reference).abs().max().item() <= 1.0 + 1e-3
    if decode == "nvjpeg":     # CMYK and progressive were sent to the CPU by the worker, and counted
        assert batch.cpu_fallback == 2 and batch.crop_slots == list(range(len(KINDS)))


@pytest.mark.parametrize("decode", ["cpu", "nvjpeg"])
def test_strips_single_pixels_and_rare_markers_match_pil(baseline_oddities, decode):
    grey, reference, batch = decoded_beside_reference(baseline_oddities, decode)
    assert grey.shape == reference.shape == (len(BASELINE_ODDITIES), 3, 224, 224)
    assert (grey - reference).abs().max().item() <= 1.0 + 1e-3
    assert batch.bad == [] and batch.cpu_fallback == 0       # the batched decoder took every one


OTHER_FORMATS = {   # what an image folder may also hold: no one right RGB but PIL's convert("RGB")
    "grey16.png": lambda image: Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257),
    "palette.png": lambda image: image.convert("P"),
    "alpha.png": lambda image: image.convert("RGBA"),
    "grey_alpha.png": lambda image: image.convert("LA"),
    "photo.webp": lambda image: image,
}


@pytest.mark.parametrize("decode", ["cpu", "nvjpeg"])
def test_other_formats_decode_as_pil_converts_them(tmp_path, decode):
    folder = tmp_path / WNIDS[4]
    folder.mkdir()
    for index, (name, convert) in enumerate(OTHER_FORMATS.items()):
        convert(photo(400, 300, 10 + index)).save(folder / name)
    grey, reference, batch = decoded_beside_reference(tmp_path, decode)
    assert grey.shape == reference.shape == (len(OTHER_FORMATS), 3, 224, 224)
    assert (grey - reference).abs().max().item() <= 1.0 + 1e-3
    assert batch.bad == [] and batch.cpu_fallback == (len(OTHER_FORMATS) if decode == "nvjpeg" else 0)


def test_files_only_the_fallback_decodes_are_counted_not_fatal(odd_folder):
    dataset = open_dataset(odd_folder, TRANSFORMS, "nvjpeg")
    runner = Runner(alexnet().eval(), Mode(), CPU)
    feeder = DeviceFeeder(CPU, Preprocess.from_transforms(TRANSFORMS), normalized_crops=False)
    raw = evaluate(runner, dataset, list(range(len(dataset))), 4, 2, 1, feeder, progress=False)
    assert sorted(raw["batch_images"]) == [2, 4] and raw["cpu_fallback_images"] == 2 and raw["bad_images"] == []


@pytest.fixture(scope="module")
def varied_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("varied")
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "make_jpegs.py"), str(out), "--count", "60",
                    "--classes", "3", "--varied", "--other-share", "0.3", "--seed", "1"],
                   check=True, capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("decode", ["pil", "cpu", "nvjpeg"])
def test_the_varied_generators_files_decode_on_every_path(varied_set, decode):
    kinds = [jpeg_info(path.read_bytes()) for path in sorted(varied_set.rglob("*.JPEG"))]
    assert len({(k.width, k.height) for k in kinds}) >= 10       # varied indeed
    dataset = open_dataset(varied_set, TRANSFORMS, decode)
    runner = Runner(alexnet().eval(), Mode(), CPU)
    feeder = DeviceFeeder(CPU, Preprocess.from_transforms(TRANSFORMS), normalized_crops=decode == "pil")
    raw = evaluate(runner, dataset, list(range(len(dataset))), 16, 2, 1, feeder, progress=False)
    assert sorted(raw["batch_images"]) == [12, 16, 16, 16] and raw["bad_images"] == []
    expected_fallback = sum(not k.gpu_decodable for k in kinds) if decode == "nvjpeg" else 0
    assert raw["cpu_fallback_images"] == expected_fallback
