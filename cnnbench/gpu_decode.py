"""JPEG decoding on the GPU inside the loader workers, for the gpu decode paths.

Each worker reads its batch's files, sorts out from their headers (jpeg_info) the files a batched
GPU decoder cannot take (CMYK, progressive, 12-bit, not JPEG: decoded on the CPU one by one, as
PIL's convert("RGB") would, and counted), decodes the rest in one batched call, resizes and crops
every image together whatever its size (resample.resize_crop_batch), and returns uint8 crops
already on the device (CUDA IPC). Workers that use CUDA can't be forked from a CUDA process:
data.make_loader starts them from a fork server.

Two GPU decoders:
- nvimgcodec: NVIDIA's nvImageCodec, an optional dependency; its hardware JPEG engines (A100,
  H100, H200 ...) share the batch with its CUDA decoder.
- nvjpeg: torchvision's (or TorchCodec's) batched nvJPEG on the GPU's SMs. It serializes calls
  within a process and spends 50-80 us of host CPU per image, so one process tops out near
  12-21k images/s on an H200; every worker has its own decoder.
"""


import torch

from .batches import BadImage, WorkerBatch
from .errors import UserError
from .jpeg_info import jpeg_info
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


class DecodeOnDevice:
    """The gpu paths' collate_fn, run in each loader worker: samples -> WorkerBatch of device crops."""

    def __init__(self, device, prep: Preprocess, decoder: str):
        self.device, self.prep, self.decoder_name = torch.device(device), prep, decoder
        self._decoder = None      # made in the worker, on first use: CUDA state does not cross processes

    def warm_up(self) -> None:
        """CUDA context, decoder and the resize's matrix products, before the first batch."""
        sample = _sample_jpeg()
        resize_crop_batch(self.decoder.decode([sample]), self.prep.resize_size, self.prep.crop_size)

    @property
    def decoder(self):
        if self._decoder is None:
            self._decoder = make_gpu_decoder(self.decoder_name, self.device)
        return self._decoder

    def __call__(self, samples) -> WorkerBatch:
        """Samples are ("encoded", (path, bytes), label), ("crop", uint8 crop, label) or ("bad", BadImage, label)."""
        crops, labels, bad = [None] * len(samples), [None] * len(samples), []
        gpu_files, gpu_slots, cpu_slots = [], [], []
        for slot, (kind, payload, label) in enumerate(samples):
            labels[slot] = label
            if kind == "crop":
                crops[slot] = payload.to(self.device, non_blocking=True)
            elif kind == "bad":
                bad.append(payload)
            elif jpeg_info(payload[1]).gpu_decodable:
                gpu_files.append(payload[1])
                gpu_slots.append(slot)
            else:
                cpu_slots.append(slot)
        resized = None
        if gpu_files:
            encoded = torch.frombuffer(bytearray().join(gpu_files), dtype=torch.uint8)
            if self.device.type == "cuda":
                encoded = encoded.pin_memory()   # nvJPEG took it 7-32% faster so in two of three H200 calls
            images = self.decoder.decode(list(torch.split(encoded, [len(f) for f in gpu_files])))
            decoded = [(slot, image) for slot, image in zip(gpu_slots, images) if image is not None]
            cpu_slots += [slot for slot, image in zip(gpu_slots, images) if image is None]
            if decoded:
                resized = resize_crop_batch([image for _, image in decoded], self.prep.resize_size, self.prep.crop_size)
                for (slot, _), crop in zip(decoded, resized):
                    crops[slot] = crop
        fallback = 0
        for slot in cpu_slots:   # what the GPU decoder could not take, as PIL would decode it
            path, data = samples[slot][1]
            try:
                crops[slot] = crop_on_cpu(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                                          self.prep).to(self.device, non_blocking=True)
                fallback += 1
            except RuntimeError as error:
                bad.append(BadImage(path, str(error).splitlines()[0] if str(error) else type(error).__name__))
        batch = WorkerBatch(bad=bad, cpu_fallback=fallback)
        kept = [slot for slot in range(len(samples)) if crops[slot] is not None]
        if resized is not None and len(resized) == len(samples):
            batch.crops, batch.labels = resized, labels      # every file through the GPU, already in order
        elif kept:
            batch.crops = torch.stack([crops[slot] for slot in kept])
            batch.labels = [labels[slot] for slot in kept]
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()   # complete before another process reads it
        return batch


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
