"""The CUDA test set (`pytest -m cuda`): what only a GPU runs. CPU CI skips it (conftest says why).

Execution modes against eager, the event timer, the profiler, the gpu decode paths in loader
workers (nvjpeg; nvimgcodec where installed) on a varied JPEG set and on baseline JPEGs of odd shapes
and markers, and the benchmark end to end.
benchmarks/gpu_acceptance.py runs these after every command the README shows.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.models import AlexNet_Weights, alexnet

import alexnet_benchmark
import alexnet_profiler
from cnnbench import kernels
from cnnbench.batches import DeviceFeeder, collate_samples
from cnnbench.benchmark import evaluate
from cnnbench.data import open_dataset
from cnnbench.device import BusySampler, resolve_device
from cnnbench.errors import REPO_ROOT, UserError
from cnnbench.gpu_decode import DecodeOnDevice, NvjpegDecoder, make_gpu_decoder
from cnnbench.kernels import max_pool
from cnnbench.modes import EXECUTIONS, Mode, Runner
from cnnbench.preprocess import Preprocess
from cnnbench.resample import resize_crop_kernels
from cnnbench.rewrites import bias_relu
from cnnbench.timing import time_calls
from conftest import BASELINE_ODDITIES, WNIDS, read_single_json, write_kinds

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")
TRANSFORMS = AlexNet_Weights.DEFAULT.transforms()
PREP = Preprocess.from_transforms(TRANSFORMS)    # frozen: one for every test


@pytest.fixture(scope="module")
def varied_jpegs(tmp_path_factory):
    out = tmp_path_factory.mktemp("varied")
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "make_jpegs.py"), str(out), "--count", "100",
                    "--classes", "4", "--varied", "--other-share", "0.3"], check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def varied_reference(varied_jpegs) -> tuple:
    """(the varied set as PIL reads it, its crops by PIL + the weights' transforms on the device)."""
    pil = open_dataset(varied_jpegs, TRANSFORMS, "pil")
    return pil, collate_samples([pil[i] for i in range(len(pil))]).crops.to(CUDA)


def gpu_decoders() -> list:
    if not torch.cuda.is_available():
        return ["nvjpeg"]     # collected, then skipped with the set
    found = []
    for name in ("nvjpeg", "nvimgcodec"):
        try:
            make_gpu_decoder(name, CUDA)
            found.append(name)
        except UserError:
            pass
    return found


def run_beside_eager(mode: Mode, images: torch.Tensor) -> tuple:
    """(runner, its output) for a random AlexNet in `mode`, checked against the eager fp16 forward."""
    torch.manual_seed(0)
    model = alexnet().eval()
    reference = Runner(model, Mode("fp16", True), CUDA)
    reference.load(images)
    expected = reference.run().float()
    runner = Runner(model, mode, CUDA)
    runner.warm_up(images, 2)
    runner.load(images)
    got = runner.run().float()
    assert (got - expected).norm() / expected.norm() < 2e-2
    return runner, got


@pytest.mark.parametrize("execution", EXECUTIONS)
@pytest.mark.parametrize("rewrite", [False, True])
def test_execution_modes_compute_what_eager_computes(execution, rewrite):
    images = torch.randn(8, 3, 224, 224)
    runner, got = run_beside_eager(Mode("fp16", True, execution, rewrite=rewrite), images)
    runner.load(images.flip(0))     # a graph replays on new input, not the captured one
    assert not torch.allclose(runner.run().float(), got)


@pytest.mark.parametrize("execution", ["eager", "compile"])
@pytest.mark.parametrize("batch", [3, 1])
def test_rewrite_under_autocast_leaves_fp32_weights_to_the_ops_autocast_casts(execution, batch):
    """Under --amp the weights stay fp32, and autocast does not cast the arguments of the fused
    convolution + ReLU or of the batch-1 linear kernel: a layer whose input autocast made half while
    its weights stayed fp32 must run the plain ops (cuDNN found no engine for the mixed ones)."""
    run_beside_eager(Mode("fp16", True, execution, amp=True, rewrite=True), torch.randn(batch, 3, 224, 224))


@pytest.mark.parametrize("batch", [1, 8])
def test_compiled_graph_replays_of_new_input_compute_what_eager_computes(batch):
    """Inductor's kernels run as dependent launches on Hopper and later (modes.compile_options): one
    that read before the kernel before it had written would replay stale values on new input."""
    inputs = [torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(seed)) for seed in range(3)]
    model = alexnet().eval()
    reference = Runner(model, Mode("fp16", True), CUDA)
    runner = Runner(model, Mode("fp16", True, "compile+cuda-graphs", rewrite=True), CUDA)
    runner.warm_up(inputs[0], 2)
    for images in inputs:
        reference.load(images)
        expected = reference.run().float()
        runner.load(images)
        got = runner.run().float()
        assert (got - expected).norm() / expected.norm() < 2e-2


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_linear_row_kernel_matches_f_linear_on_cuda(dtype):
    from cnnbench import kernels

    unavailable = kernels.kernel_unavailable(torch.zeros(1, device=CUDA, dtype=dtype))
    assert unavailable == ("" if dtype != torch.float32 else "input is float32, not fp16/bf16")
    torch.manual_seed(0)
    for out_features, in_features, relu in ((4096, 9216, True), (1000, 4096, False), (37, 300, True)):
        w = torch.randn(out_features, in_features, device=CUDA, dtype=dtype)
        b = torch.randn(out_features, device=CUDA, dtype=dtype)
        x = torch.randn(1, in_features, device=CUDA, dtype=dtype)
        expected = torch.nn.functional.linear(x.double(), w.double(), b.double())
        expected = expected.relu() if relu else expected
        got = kernels.linear_row(x, w, b, relu).double()
        # the output's one rounding, and fp32 summation order over thousands of terms
        tolerance = expected.abs().max().item() * (torch.finfo(dtype).eps + 1e-5)
        assert (got - expected).abs().max().item() <= tolerance, (out_features, in_features)


def test_linear_row_layers_in_a_cuda_graph_read_what_the_layer_before_wrote():
    """Launched as dependent launches (Hopper and later), each layer starts before the one before ends
    and must wait for its output: replays on new input give the chain's new result, not stale rows."""
    from cnnbench import kernels

    torch.manual_seed(0)
    shapes = ((4096, 9216, True), (4096, 4096, True), (1000, 4096, False))
    layers = [(torch.randn(out, inp, device=CUDA, dtype=torch.float16) / inp ** 0.5,
               torch.randn(out, device=CUDA, dtype=torch.float16), relu) for out, inp, relu in shapes]
    assert kernels.dependent_launch(torch.zeros(1, device=CUDA)) == (torch.cuda.get_device_capability(CUDA)[0] >= 9)

    def chain(x, linear):
        for w, b, relu in layers:
            x = linear(x, w, b, relu)
        return x

    def reference(x, w, b, relu):
        y = torch.nn.functional.linear(x.float(), w.float(), b.float())
        return (y.relu() if relu else y).half()

    x = torch.randn(1, 9216, device=CUDA, dtype=torch.float16)
    chain(x, kernels.linear_row)    # the autotuner's trials run outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = chain(x, kernels.linear_row)
    for seed in range(3):
        x.copy_(torch.randn(1, 9216, generator=torch.Generator().manual_seed(seed)))
        graph.replay()
        expected = chain(x, reference)
        torch.testing.assert_close(y, expected, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("batch", [1, 8])
def test_rewritten_model_compiles_as_one_graph(batch):
    """A graph break inside a layer makes dynamo run the Sequential eagerly, layer by layer."""
    from cnnbench.rewrites import rewrite_model

    model = rewrite_model(alexnet().eval()).to(CUDA, torch.float16, memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device=CUDA, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0, [reason.reason for reason in explanation.break_reasons]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_conv1_takes_the_pairs_form_from_two_images_and_computes_the_convolution(dtype):
    from cnnbench.rewrites import SpaceToDepthConv2d

    conv = torch.nn.Conv2d(3, 64, 11, stride=4, padding=2).to(CUDA, dtype)
    layer = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    pooling = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    assert pooling.take_relu_and_pool(torch.nn.MaxPool2d(3, 2))
    for batch, size in ((1, 224), (2, 224), (3, 227), (5, 100)):     # output widths 55, 55, 56, 24
        x = torch.randn(batch, 3, size, size, device=CUDA, dtype=dtype).contiguous(memory_format=torch.channels_last)
        assert layer.form(x) == ("pixel pairs (triton conv_pairs)" if batch >= 2 else "space-to-depth (one image)")
        expected = conv(x).float()
        got = layer(x)
        # the pairs form's output is the channels_last image itself: eager pooling reads it without a copy
        assert got.shape == expected.shape and got.is_contiguous(memory_format=torch.channels_last)
        assert (got.float() - expected).abs().max().item() <= 0.02 * expected.abs().max().item()
        pooled = pooling(x)
        if pooling.form(x).startswith("wgmma"):     # another kernel's sum: the pooled convolution, to rounding
            expected_pooled = torch.relu(torch.nn.functional.max_pool2d(expected, 3, 2))
            assert (pooled.float() - expected_pooled).abs().max().item() <= 0.02 * expected_pooled.abs().max().item()
        else:   # with the pool's row max in the kernel: the same convolution, pooled, bit for bit, then bias and ReLU
            if batch >= 2:      # the pairs kernel's row max, then the column part
                unpooled, window, stride = pooling._pairs(x, None), (3, 1), (2, 1)
            else:
                unpooled, window, stride = pooling._space_to_depth(x, None), 3, 2
            expected_pooled = bias_relu(torch.nn.functional.max_pool2d(unpooled, window, stride), conv.bias)
            assert torch.equal(pooled, expected_pooled)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_conv1_wgmma_gives_the_pooled_convolution_on_hopper_in_every_schedule(dtype):
    from cnnbench import conv1_wgmma

    reason = conv1_wgmma.unavailable(0, dtype)
    if torch.cuda.get_device_capability() != (9, 0):
        assert reason.startswith("needs compute capability 9.0")
        return
    assert reason == ""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 64, 11, stride=4, padding=2).to(CUDA, dtype)
    packed = conv1_wgmma.pack_weights(conv.weight.detach())
    programs = torch.cuda.get_device_properties(0).multi_processor_count
    # bands only, row maxima tile by tile (odd batches, the last tiles partial, several rounds a program),
    # whole images then bands, whole images only
    plans = set()
    for batch, bias in ((2, conv.bias.detach()), (7, None), (23, conv.bias.detach()),
                        (programs + 3, conv.bias.detach()), (2 * programs, None)):
        pooling, banded_from, _ = conv1_wgmma.schedule(batch, programs)
        plans.add("row max" if not pooling else "bands" if banded_from == 0 else "whole" if banded_from == batch
                  else "both")
        x = torch.randn(batch, 3, 224, 224, device=CUDA, dtype=dtype).contiguous(memory_format=torch.channels_last)
        full = torch.nn.functional.conv2d(x.float(), conv.weight.float(), None if bias is None else bias.float(), 4, 2)
        expected = torch.relu(torch.nn.functional.max_pool2d(full, 3, 2)).permute(0, 2, 3, 1)
        got = torch.ops.cnnbench.conv1_wgmma(x, packed, bias)
        assert got.shape == (batch, 27, 27, 64) and got.dtype == dtype and got.is_contiguous()
        assert (got.float() - expected).abs().max().item() <= 0.01 * expected.abs().max().item(), (batch, plans)
    assert plans == {"row max", "bands", "whole", "both"}


def test_rewrite_of_alexnets_conv1_and_pool_takes_wgmma_and_says_why_not_elsewhere():
    from cnnbench.rewrites import SpaceToDepthConv2d

    conv = torch.nn.Conv2d(3, 64, 11, stride=4, padding=2).to(CUDA, torch.bfloat16)
    layer = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    assert layer.take_relu_and_pool(torch.nn.MaxPool2d(3, 2))
    hopper = torch.cuda.get_device_capability() == (9, 0)
    for batch, size, form in ((2, 224, "wgmma (cuda conv1_wgmma, with the bias, pool and ReLU)"),
                              (1, 224, "space-to-depth (one image)"),
                              (3, 227, "pixel pairs (triton conv_pairs, with the pool's row max; not conv1_wgmma: input not 224x224)")):
        x = torch.randn(batch, 3, size, size, device=CUDA, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        assert layer.form(x) == form if hopper or batch == 1 else layer.form(x).startswith("pixel pairs")
        expected = torch.relu(torch.nn.functional.max_pool2d(conv(x).float(), 3, 2))
        got = layer(x)
        assert got.shape == expected.shape and got.is_contiguous(memory_format=torch.channels_last)
        assert (got.float() - expected).abs().max().item() <= 0.02 * expected.abs().max().item()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_conv2_wgmma_computes_alexnets_conv2_on_hopper(dtype):
    from cnnbench import conv2_wgmma

    reason = conv2_wgmma.unavailable(0, dtype)
    if torch.cuda.get_device_capability() != (9, 0):
        assert reason.startswith("needs compute capability 9.0")
        return
    assert reason == ""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 192, 5, padding=2).to(CUDA, dtype)
    packed = conv2_wgmma.pack_weights(conv.weight.detach())
    programs = torch.cuda.get_device_properties(0).multi_processor_count
    # one image (4 tiles, the last partial), tiles that span two images, a last tile past the batch, and
    # more tiles than programs (several rounds a program)
    for batch, bias in ((1, None), (3, conv.bias.detach()), (7, None), (programs // 3 + 5, conv.bias.detach())):
        x = torch.randn(batch, 64, 27, 27, device=CUDA).relu().to(dtype).contiguous(memory_format=torch.channels_last)
        expected = torch.nn.functional.conv2d(x.float(), conv.weight.float(), None if bias is None else bias.float(),
                                              padding=2).permute(0, 2, 3, 1)
        cudnn_error = (torch.nn.functional.conv2d(x, conv.weight, bias, padding=2).float().permute(0, 2, 3, 1)
                       - expected).abs().max().item()
        got = torch.ops.cnnbench.conv2_wgmma(x, packed, bias)
        assert got.shape == (batch, 27, 27, 192) and got.dtype == dtype and got.is_contiguous()
        # fp32 accumulation, one rounding: no further from the fp32 convolution than cuDNN's
        assert (got.float() - expected).abs().max().item() <= 1.01 * cudnn_error, batch


def test_rewrite_of_alexnets_conv2_takes_wgmma_from_enough_images_and_says_why_not_elsewhere():
    from cnnbench import conv2_wgmma
    from cnnbench.rewrites import WgmmaConv2d

    conv = torch.nn.Conv2d(64, 192, 5, padding=2).to(CUDA, torch.bfloat16)
    layer = WgmmaConv2d.of(conv).to(memory_format=torch.channels_last)
    assert layer.packed.dim() == 1       # the packed weights keep their layout in a channels_last model
    hopper = torch.cuda.get_device_capability() == (9, 0)
    least = conv2_wgmma.MIN_IMAGES
    for batch, size, channels_last, form in (
            (least, 27, True, "wgmma (cuda conv2_wgmma)"),
            (least - 1, 27, True, f"cuDNN (not conv2_wgmma: fewer than {least} images)"),
            (least, 27, False, "cuDNN (not conv2_wgmma: input not channels_last)"),
            (least, 31, True, "cuDNN (not conv2_wgmma: input not 27x27)")):
        x = torch.randn(batch, 64, size, size, device=CUDA, dtype=torch.bfloat16)
        x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        assert layer.form(x) == form if hopper else layer.form(x).startswith("cuDNN (not conv2_wgmma: needs compute")
        expected = conv(x).float()
        got = layer(x)
        assert got.shape == expected.shape
        assert (got.float() - expected).abs().max().item() <= 0.01 * expected.abs().max().item()


def test_conv1_keeps_space_to_depth_where_triton_has_no_tensor_descriptors(monkeypatch):
    from cnnbench.rewrites import SpaceToDepthConv2d

    conv = torch.nn.Conv2d(3, 64, 11, stride=4, padding=2).to(CUDA, torch.float16)
    layer = SpaceToDepthConv2d(conv).to(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 224, 224, device=CUDA, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
    monkeypatch.setattr(kernels, "TensorDescriptor", None)
    assert layer.form(x).startswith("space-to-depth (triton") and "tensor descriptors" in layer.form(x)
    expected = conv(x).float()
    assert (layer(x).float() - expected).abs().max().item() <= 0.02 * expected.abs().max().item()


def test_conv_pairs_leaves_the_l1_the_shared_memory_its_programs_do_not_need():
    import ctypes

    x = torch.randn(2, 3, 224, 224, device=CUDA, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    packed = kernels.pack_pairs(torch.randn(64, 3, 11, 11, device=CUDA, dtype=torch.bfloat16), 4, 2)
    kernels.conv_pairs(x, packed, None, 4, 11, 11, 2, 2, 55, 55, 64)
    assert kernels._CARVED, "the carve-out was not set after the first launch"
    percent = ctypes.c_int()
    for handle in kernels._CARVED:
        status = ctypes.CDLL("libcuda.so.1").cuFuncGetAttribute(ctypes.byref(percent),
                                                                kernels._PREFERRED_SHARED_MEMORY_CARVEOUT,
                                                                ctypes.c_void_p(handle))
        assert status == 0 and 0 < percent.value < 100


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_max_pool_kernel_gives_pytorchs_bits_on_alexnets_pools(dtype):
    for shape, kernel_size, stride in (((5, 64, 55, 27), (3, 1), (2, 1)), ((5, 64, 55, 55), (3, 3), (2, 2)),
                                       ((5, 192, 27, 27), (3, 3), (2, 2)), ((5, 256, 13, 13), (3, 3), (2, 2))):
        x = torch.randn(shape, device=CUDA, dtype=dtype).contiguous(memory_format=torch.channels_last)
        got = torch.ops.cnnbench.max_pool(x, *kernel_size, *stride).permute(0, 3, 1, 2)
        assert got.is_contiguous(memory_format=torch.channels_last)
        pooled = torch.nn.functional.max_pool2d(x, kernel_size, stride)
        assert torch.equal(got, pooled), shape
        bias = torch.randn(shape[1], device=CUDA, dtype=dtype)     # with the bias and ReLU, in NCHW order
        got = torch.ops.cnnbench.max_pool(x, *kernel_size, *stride, bias, True, True)
        assert got.is_contiguous() and torch.equal(got, bias_relu(pooled, bias)), shape
    tiny = torch.randn(2, 8, 2, 5, device=CUDA, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with pytest.raises(RuntimeError, match="too small"):    # PyTorch's own error, not an empty launch
        max_pool(tiny, (3, 3), (2, 2))


def test_rewrite_of_an_nchw_input_still_pools_in_triton():
    # conv1's space-to-depth form writes channels_last, so every pool after it gets NHWC input
    runner, _ = run_beside_eager(Mode("fp16", False, "eager", rewrite=True), torch.randn(2, 3, 224, 224))
    assert runner.rewrite_check["strided_conv_forms"][0] == "space-to-depth (input not channels_last)"
    assert runner.rewrite_check["max_pool_kernel"] == "triton max_pool"


def test_rewrite_at_batch_1_runs_the_triton_linear_kernel_in_a_compiled_graph():
    from cnnbench import conv2_wgmma

    runner, _ = run_beside_eager(Mode("fp16", True, "compile+cuda-graphs", rewrite=True), torch.randn(1, 3, 224, 224))
    assert runner.rewrite_check["batch1_linear_kernel"] == "triton linear_row"
    assert runner.rewrite_check["max_pool_kernel"] == "triton max_pool"      # in the eager check
    # the check's two images take conv1_wgmma on Hopper (else the pairs form), its first image alone
    # the space-to-depth form
    two_images = ("wgmma (cuda conv1_wgmma, with the bias, pool and ReLU)" if torch.cuda.get_device_capability() == (9, 0)
                  else "pixel pairs (triton conv_pairs, with the pool's row max; not conv1_wgmma: needs compute")
    forms = runner.rewrite_check["strided_conv_forms"]
    assert forms[0].startswith(two_images) and forms[1:] == ["space-to-depth (one image)"]
    # on Hopper the check's batch is its images repeated up to the batch conv2_wgmma runs from
    least = conv2_wgmma.MIN_IMAGES
    if torch.cuda.get_device_capability() == (9, 0):
        assert runner.rewrite_check["images"] == least + 1
        assert runner.rewrite_check["conv2_forms"] == ["wgmma (cuda conv2_wgmma)",
                                                      f"cuDNN (not conv2_wgmma: fewer than {least} images)"]


def test_roofline_of_the_rewrite_times_its_fused_layers_and_pools_on_cuda(tmp_path):
    import alexnet_ai

    args = alexnet_ai.get_args_parser().parse_args(
        ["--rewrite", "--measure", "--synthetic", "--weights", "none", "--dtype", "fp16", "--channels-last",
         "--batch-sizes", "1", "--peak-tflops", "100", "--peak-gbps", "1000", "--output-dir", str(tmp_path)])
    assert alexnet_ai.main(args) == 0
    layers = {row["name"]: row for row in read_single_json(tmp_path, "*.json")["batch_sizes"][0]["layers"]}
    assert layers["features.6"]["type"] == "ConvReLU" and layers["features.6"]["time_us"] > 0
    assert layers["classifier.1"]["type"] == "LinearReLU" and layers["classifier.1"]["time_us"] > 0
    # the Triton pools: the profiler sees a kernel in its layer only when an op launched it
    assert layers["features.4"]["type"] == "MaxPool2d" and layers["features.4"]["time_us"] > 0
    assert layers["features.11"]["time_us"] > 0


def test_event_timer_times_the_work():
    a = torch.randn(4096, 4096, device=CUDA)
    small = time_calls(lambda: a @ a, CUDA, iterations=5, warmup=2)
    large = time_calls(lambda: [a @ a for _ in range(4)], CUDA, iterations=5, warmup=2)
    assert all(t > 0 for t in small) and sorted(large)[2] > 2.5 * sorted(small)[2]


def busy_for(seconds: float, work) -> dict:
    """BusySampler's summary over `seconds` of calling work() back to back, each call finished on the device."""
    with BusySampler(CUDA) as busy:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            work()
            torch.cuda.synchronize()
    return busy.summary()


def test_engine_sampler_sees_kernels_and_jpeg_decoders(varied_jpegs):
    a = torch.randn(8192, 8192, device=CUDA)
    matmuls = busy_for(1.0, lambda: a @ a)
    assert matmuls["nvml_readings"] >= 5 and matmuls["gpu_kernel_busy_percent"] > 50
    dataset = open_dataset(varied_jpegs, TRANSFORMS, "nvjpeg")
    files = [dataset[i] for i in range(40)]
    decoder = NvjpegDecoder(CUDA)
    encoded = [torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
               for kind, path, _ in files if kind == "encoded"]
    decoder.decode(encoded)     # the decoder's start-up stays out of the sampled second
    decoding = busy_for(1.0, lambda: decoder.decode(encoded))
    if decoding["jpeg_decoder_busy_percent"] is not None:       # a GPU with hardware JPEG decoders
        assert decoding["jpeg_decoder_busy_percent"] > matmuls["jpeg_decoder_busy_percent"]


def test_sampler_reads_more_power_under_matmuls_than_at_rest():
    a = torch.randn(8192, 8192, device=CUDA, dtype=torch.bfloat16)
    resting = busy_for(1.0, lambda: time.sleep(0.02))
    matmuls = busy_for(1.0, lambda: [a @ a for _ in range(8)])
    for sample in resting, matmuls:
        assert 0 < sample["gpu_energy_j"] and 0 < sample["gpu_power_w"] < 1.5 * sample["gpu_power_limit_w"]
        assert 0 < sample["gpu_sm_clock_mhz"] <= sample["gpu_sm_clock_max_mhz"]
        assert isinstance(sample["gpu_clock_limits_percent"], dict)
    assert matmuls["gpu_power_w"] > 1.5 * resting["gpu_power_w"]


def test_benchmark_reads_the_gpus_energy_over_a_pass_of_a_second_or_more(tmp_path, capsys):
    def run(batches: int) -> dict:
        args = alexnet_benchmark.get_args_parser().parse_args(
            ["--synthetic", "--weights", "none", "--batch-size", "256", "--num-batches", str(batches), "--quiet",
             "--output-dir", str(tmp_path / str(batches))])
        assert alexnet_benchmark.main(args) == 0
        return read_single_json(tmp_path / str(batches))
    short = run(3)
    assert short["gpu_energy_j"] is None and short["gpu_sm_clock_mhz"] > 0
    assert "energy not read over a pass of" in capsys.readouterr().out
    long = run(600)       # fp32 at batch 256: several seconds on an H200
    assert long["sampled_s"] >= 1.0 and 0 < long["gpu_power_w"] < 1.5 * long["gpu_power_limit_w"]
    assert long["images_per_gpu_joule"] == pytest.approx(long["total_images"] / long["gpu_energy_j"])
    assert "images per joule" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [[], ["--precision", "bf16", "--channels-last", "--batch-sizes", "1,32"]])
def test_profiler_on_cuda(tmp_path, flags):
    args = alexnet_profiler.get_args_parser().parse_args(
        ["--weights", "none", "--synthetic", "--steps", "2", "--output-dir", str(tmp_path), *flags])
    assert alexnet_profiler.main(args) == 0
    for per_batch in read_single_json(tmp_path, "profiler_results_*[0-9].json")["batch_sizes"]:
        layers = per_batch["layers"]
        assert layers[0]["time_us"] > 0 and layers[0]["kernels"]
        total = sum(layer["time_us"] for layer in layers)
        assert total == pytest.approx(per_batch["profiled_forward_us"]), (total, per_batch["profiled_forward_us"],
                                                                          [(l["name"], l["time_us"]) for l in layers])


def test_resize_kernels_match_pil_on_cuda():
    sizes = [(375, 500), (500, 333), (1050, 1400), (90, 120), (224, 224), (2000, 300), (257, 256)]
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator) for h, w in sizes]
    images[1] = torch.randint(0, 256, (500, 333, 3), dtype=torch.uint8, generator=generator).permute(2, 0, 1)
    crops = resize_crop_kernels([image.to(CUDA) for image in images], Preprocess()).cpu()
    for image, crop in zip(images, crops):
        pil = TF.center_crop(TF.resize(TF.to_pil_image(image), 256), 224)
        assert (crop.int() - TF.pil_to_tensor(pil).int()).abs().max().item() <= 1


def test_auto_device_is_the_indexed_current_cuda_device():
    """'auto' and 'cuda' name one device, with its index, and make it current: what asks for the current
    device (Triton, a loader worker's pinned buffers) finds the run's."""
    auto = resolve_device("auto")
    assert auto == resolve_device("cuda") and auto.index == torch.cuda.current_device()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_triton_kernels_run_on_the_gpu_of_their_tensors_not_the_current_one():
    """Triton launches on the current device: with cuda:0 current, the resize and linear kernels given
    tensors on cuda:1 must still compute there (a loader worker or rank of a second GPU)."""
    second = torch.device("cuda", 1)
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator)
              for h, w in ((375, 500), (500, 333))]
    x, weight, bias = (torch.randn(*shape, generator=generator).half() for shape in ((1, 4096), (1000, 4096), (1000,)))
    expected_crops = resize_crop_kernels([image.to(CUDA) for image in images], Preprocess()).cpu()
    with torch.cuda.device(0):
        crops = resize_crop_kernels([image.to(second) for image in images], Preprocess())
        y = kernels.linear_row(x.to(second), weight.to(second), bias.to(second), relu=False)
        torch.cuda.synchronize(second)
    assert crops.device == second and torch.equal(crops.cpu(), expected_crops)
    expected = torch.nn.functional.linear(x.double(), weight.double(), bias.double())
    tolerance = expected.abs().max().item() * (torch.finfo(torch.float16).eps + 1e-5)
    assert y.device == second and (y.cpu().double() - expected).abs().max().item() <= tolerance


@pytest.mark.parametrize("name", gpu_decoders())
def test_gpu_decoders_match_pil_on_varied_files(varied_jpegs, varied_reference, name):
    """Grey, CMYK, progressive and odd-sized files in one batch: CMYK and progressive go to the CPU."""
    pil, reference = varied_reference
    batch = DecodeOnDevice(CUDA, PREP, name)([open_dataset(varied_jpegs, TRANSFORMS, name)[i] for i in range(len(pil))])
    feeder = DeviceFeeder(CUDA, PREP, normalized_crops=False)
    images, labels = feeder(batch)
    assert images.is_cuda and images.shape == (len(pil), 3, 224, 224) and not batch.bad
    assert labels.tolist() == [target for _, target in pil.samples] and batch.cpu_fallback >= 1
    difference = ((images - reference) * feeder.std).abs()        # grey levels
    assert difference.mean().item() < 3


@pytest.mark.parametrize("name", gpu_decoders())
def test_gpu_worker_batches_back_to_back_keep_their_crops(varied_jpegs, varied_reference, name):
    """A worker does not wait for its batch's resize: the next batch's decode must not overwrite what it reads."""
    pil, reference = varied_reference
    samples = open_dataset(varied_jpegs, TRANSFORMS, name)
    worker, half = DecodeOnDevice(CUDA, PREP, name), len(pil) // 2
    batches = [worker([samples[i] for i in indices]) for indices in (range(half), range(half, len(pil)))]
    feeder = DeviceFeeder(CUDA, PREP, normalized_crops=False)
    images = torch.cat([feeder(batch)[0] for batch in batches])
    difference = ((images - reference) * feeder.std).abs()        # grey levels
    assert images.shape == (len(pil), 3, 224, 224) and difference.mean(dim=(1, 2, 3)).max().item() < 6  # per image


@pytest.mark.parametrize("name", gpu_decoders())
def test_gpu_decoders_take_strips_single_pixels_and_rare_markers(tmp_path, name):
    """Baseline JPEGs of odd shapes and markers are the GPU decoder's, and crop as PIL's do, give or
    take its IDCT; a truncated one is named, not filled in."""
    folder = write_kinds(tmp_path / WNIDS[5], BASELINE_ODDITIES)
    whole = (folder / "422.JPEG").read_bytes()
    truncated = folder / "truncated.JPEG"
    truncated.write_bytes(whole[:len(whole) * 3 // 5])
    samples = open_dataset(tmp_path, TRANSFORMS, name)
    batch = DecodeOnDevice(CUDA, PREP, name)([samples[i] for i in range(len(samples))])
    assert [bad.path for bad in batch.bad] == [str(truncated)] and batch.cpu_fallback == 0
    pil = open_dataset(tmp_path, TRANSFORMS, "pil")
    reference = collate_samples([pil[i] for i, (path, _) in enumerate(pil.samples) if path != str(truncated)])
    feeder = DeviceFeeder(CUDA, PREP, normalized_crops=False)
    images, _ = feeder(batch)
    difference = ((images - reference.crops.to(CUDA)) * feeder.std).abs()        # grey levels
    assert images.shape == (len(BASELINE_ODDITIES), 3, 224, 224)
    assert difference.mean(dim=(1, 2, 3)).max().item() < 6                      # per image


@pytest.mark.parametrize("name", gpu_decoders())
def test_prefetching_loader_with_gpu_workers_scores_every_image(varied_jpegs, name):
    dataset = open_dataset(varied_jpegs, TRANSFORMS, name)
    runner = Runner(alexnet().eval(), Mode("bf16", True), CUDA)
    feeder = DeviceFeeder(CUDA, PREP, normalized_crops=False)
    raw = evaluate(runner, dataset, list(range(len(dataset))), 32, 2, 1, feeder, progress=False)
    assert sorted(raw["batch_images"]) == [4, 32, 32, 32]      # the last, partial batch too
    startup = raw["startup_breakdown"]
    assert raw["cpu_fallback_images"] >= 1 and startup["workers_reporting"] == 2
    steps = [startup[f"worker_{step}_max"] for step in ("context_s", "decoder_s", "resize_s")]
    assert min(steps) > 0 and max(steps) <= startup["worker_init_s_max"]     # each timed, on the device
    assert 0 < startup["first_batch_delivery_s_max"] < raw["startup_s"]


def test_benchmark_end_to_end_on_cuda(varied_jpegs, tmp_path):
    args = alexnet_benchmark.get_args_parser().parse_args(
        ["--data-path", str(varied_jpegs), "--weights", "none", "--batch-size", "40", "--num-batches", "0",
         "--precision", "bf16", "--channels-last", "--quiet", "--output-dir", str(tmp_path)])
    assert alexnet_benchmark.main(args) == 0
    result = read_single_json(tmp_path)
    assert result["total_images"] == 100 and result["data_info"]["decode"] in ("nvjpeg", "nvimgcodec")
    assert result["data_info"]["resize"] == "kernels" or kernels.triton is None
    assert result["end_to_end_images_per_second"] <= result["model_images_per_second"]
    fidelity = result["data_info"]["input_fidelity"]
    assert fidelity["images"] == 64 and fidelity["mean_abs_grey_levels"] < 3
    assert result["nvml_readings"] >= 1 and 0 <= result["gpu_kernel_busy_percent"] <= 100


@pytest.mark.parametrize("flags", [[], ["--rewrite", "--channels-last"]], ids=["reference", "rewrite"])
def test_counters_measure_every_layer_under_ncu(tmp_path, flags):
    """alexnet_ai.py --counters end to end: ncu over the child, per-layer rows whose sums hold; with
    --rewrite, of the rewritten layers (conv1 in the pairs kernel, conv3's ReLU inside its kernel)."""
    import alexnet_ai
    from cnnbench.ncu import CountersUnavailable, find_ncu

    try:
        find_ncu()
    except CountersUnavailable as error:
        pytest.skip(str(error))
    args = alexnet_ai.get_args_parser().parse_args(
        ["--counters", "--batch-sizes", "2", "--precision", "bf16", "--weights", "none", "--output-dir", str(tmp_path),
         *flags])
    assert alexnet_ai.main(args) == 0
    result = read_single_json(tmp_path, "measured_bytes_results_*.json")
    batch = result["batch_sizes"][0]
    assert batch["checks"]["layers_sum_to_totals"] and not batch["checks"]["below_minimum_unexplained"]
    conv_types = ("Conv2d", "SpaceToDepthConv2d", "ConvReLU", "WgmmaConv2d")
    convs = [r for r in batch["layers"] if r["type"] in conv_types]
    assert len(convs) == 5
    assert all(r["kernel_count"] >= 1 and r["dram_read_bytes"] > 0 and r["l2_bytes"] > 0 for r in convs)
    assert result["mode"]["rewrite"] == bool(flags)
    assert [r["type"] for r in convs][:3:2] == (["SpaceToDepthConv2d", "ConvReLU"] if flags else ["Conv2d"] * 2)
    assert result["cache"] == "cold" and result["ceilings"]["l2_bytes_per_s"] > result["ceilings"]["dram_bytes_per_s"]
    assert list(tmp_path.glob("measured_bytes_results_*.png")) and list(tmp_path.glob("*.ncu-rep"))
