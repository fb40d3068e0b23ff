"""JPEG decoding on the GPU, in the main process, for the gpu decode paths.

The loader workers (CPU only) read each batch's files and sort out from their headers
(jpeg_info) the files a batched GPU decoder cannot take (CMYK, progressive, 12-bit, not JPEG):
those they decode themselves, one by one, as PIL's convert("RGB") would, and count. The rest
travel as bytes; the prefetch threads decode them in one batched call per batch and resize and
crop every image together whatever its size (resample.resize_crop_batch). One process holds
the GPU: several processes sharing it are time-sliced (on an H200, 8 decoding workers reached
14k images/s on same-size files and their start-up took 11-20 s, mostly CUDA and decoder set-up).

Two GPU decoders:
- nvimgcodec: NVIDIA's nvImageCodec, an optional dependency; its hardware JPEG engines (A100,
  H100, H200 ...) share the batch with its CUDA decoder.
- nvjpeg: torchvision's (or TorchCodec's) batched nvJPEG on the GPU's SMs. It serializes calls
  within a process and spends 50-80 us of host CPU per image.
"""


import torch

from .batches import BadImage, WorkerBatch
from .errors import UserError
from .preprocess import RGB, Preprocess, crop_on_cpu, decode_jpeg
from .resample import resize_crop_batch

GPU_DECODERS = ("nvimgcodec", "nvjpeg")
HARDWARE_LOAD_HINT = 0.6    # share of a batch nvImageCodec gives its hardware engines; the rest its CUDA decoder


class NvjpegDecoder:
    """Batched nvJPEG through torchvision.io (or TorchCodec)."""
    name = "nvjpeg"

    def __init__(self, device: torch.device):
        self.device = device

    def decode(self, files: list) -> list:
        """(3,H,W) uint8 device tensors, None where one file failed (the batch call fails whole)."""
        try:
            return list(decode_jpeg(files, device=self.device, mode=RGB))
        except RuntimeError:
            pass
        images = []
        for data in files:
            try:
                images.append(decode_jpeg(data, device=self.device, mode=RGB))
            except RuntimeError:
                images.append(None)
        return images


class NvImageCodecDecoder:
    """nvImageCodec: hardware JPEG engines plus its CUDA decoder, on the caller's CUDA stream."""
    name = "nvimgcodec"

    def __init__(self, device: torch.device):
        from nvidia import nvimgcodec   # optional: pip install nvidia-nvimgcodec-cu13[nvjpeg] (or -cu12)

        self.device, self._codestream = device, nvimgcodec.CodeStream
        backends = [nvimgcodec.Backend(nvimgcodec.BackendKind.HW_GPU_ONLY, load_hint=HARDWARE_LOAD_HINT),
                    nvimgcodec.Backend(nvimgcodec.BackendKind.GPU_ONLY)]
        self.decoder = nvimgcodec.Decoder(device_id=device.index or 0, backends=backends)
        # as PIL and torchvision: planar RGB, 8 bits, no EXIF rotation
        self.params = nvimgcodec.DecodeParams(apply_exif_orientation=False, color_spec=nvimgcodec.ColorSpec.SRGB,
                                              allow_any_depth=False, sample_format=nvimgcodec.SampleFormat.P_RGB)

    def decode(self, files: list) -> list:
        stream = torch.cuda.current_stream(self.device)
        images = self.decoder.decode([self._codestream(f.numpy()) for f in files], params=self.params,
                                     cuda_stream=stream.cuda_stream)
        return [None if image is None else torch.as_tensor(image, device=self.device) for image in images]


def make_gpu_decoder(name: str, device: torch.device):
    """The named decoder, checked on a small JPEG; UserError when it cannot run here.

    nvjpeg on a CPU device is libjpeg-turbo through the same batched call, which lets the
    workers' logic run (and be tested) without a GPU.
    """
    try:
        decoder = NvImageCodecDecoder(device) if name == "nvimgcodec" else NvjpegDecoder(device)
        sample = _sample_jpeg()
        images = decoder.decode([sample, sample])
        if any(image is None or tuple(image.shape) != (3, 8, 8) for image in images):
            raise RuntimeError("decoded a test JPEG wrongly")
    except (ImportError, RuntimeError, TypeError, AttributeError) as error:
        raise UserError(f"{name} JPEG decoding is not available here ({str(error).splitlines()[0]})")
    return decoder


def _sample_jpeg() -> torch.Tensor:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 90)).save(buffer, "JPEG")
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def best_gpu_decoder(device: torch.device):
    """nvimgcodec where it is installed and runs, else nvjpeg; None when neither runs here."""
    for name in GPU_DECODERS:
        try:
            return make_gpu_decoder(name, device).name
        except UserError:
            continue
    return None


class GpuDecoderPool:
    """One decoder per prefetch thread, made and warmed up before the clock starts.

    crops() decodes a WorkerBatch's encoded files in one batched call, resizes them all together
    whatever their sizes (resample.resize_crop_batch) and returns uint8 crops on the device with
    their slots. A file the decoder refuses after all (damaged, or a kind its header did not
    betray) is decoded on the CPU here, as PIL would, and counted; one the CPU cannot decode
    either is added to the batch's bad files.
    """

    def __init__(self, name: str, device: torch.device, prep: Preprocess, threads: int = 1):
        self.name, self.device, self.prep = name, torch.device(device), prep
        self.decoders = [make_gpu_decoder(name, self.device) for _ in range(threads)]
        sample = _sample_jpeg()
        for decoder in self.decoders:     # first calls allocate; the resize's first product starts cuBLAS
            resize_crop_batch(decoder.decode([sample]), prep.resize_size, prep.crop_size)

    def crops(self, batch: WorkerBatch, decoder_index: int = 0) -> tuple:
        files = list(torch.split(batch.encoded, batch.encoded_sizes))
        images = self.decoders[decoder_index].decode(files)
        decoded = [(slot, image) for slot, image in zip(batch.encoded_slots, images) if image is not None]
        crops = (resize_crop_batch([image for _, image in decoded], self.prep.resize_size, self.prep.crop_size)
                 if decoded else None)
        slots = [slot for slot, _ in decoded]
        refused = [(slot, data, path) for slot, data, path, image in
                   zip(batch.encoded_slots, files, batch.encoded_paths, images) if image is None]
        extra = []
        for slot, data, path in refused:
            try:
                extra.append(crop_on_cpu(data.clone(), self.prep).to(self.device, non_blocking=True))
                slots.append(slot)
                batch.cpu_fallback += 1
            except RuntimeError as error:
                batch.bad.append(BadImage(path, str(error).splitlines()[0] if str(error) else type(error).__name__))
        if extra:
            crops = torch.cat([crops, torch.stack(extra)]) if crops is not None else torch.stack(extra)
        return crops, slots


def resolve_decode(requested, device: torch.device) -> str:
    """The decode path a run uses: pil, cpu or a name in GPU_DECODERS.

    None picks the best GPU decoder that runs here, else cpu; "gpu" the best one, or an error.
    """
    if requested in ("pil", "cpu"):
        return requested
    if device.type != "cuda":
        if requested is None:
            return "cpu"
        raise UserError(f"--decode {requested}: GPU JPEG decoding needs a CUDA device (this run: {device})")
    if requested in GPU_DECODERS:
        return make_gpu_decoder(requested, device).name
    best = best_gpu_decoder(device)
    if best is None and requested == "gpu":
        raise UserError(f"GPU JPEG decoding (nvImageCodec or nvJPEG) does not run here (this run: {device})")
    return best or "cpu"
