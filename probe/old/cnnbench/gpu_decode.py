"""JPEG decoding on the GPU inside the loader workers, for the gpu decode paths.

Each worker reads its batch's files and sorts out from their headers (jpeg_info) the files a
batched GPU decoder cannot take (CMYK, progressive, 12-bit, not JPEG): those it decodes on the
CPU as PIL's convert("RGB") would, in threads beside the GPU's decode, and counts. The rest go
through one batched GPU decoder call per batch (DecodeOnDevice) and come back to the main
process as uint8 crops on the device (CUDA IPC). Workers that use CUDA can't be forked from a
CUDA process: data.make_loader starts them from a fork server. On an H200, decoding in the main
process instead (CPU-only workers, two prefetch threads) started in 1.3-3.5 s rather than 11-20 s
but ran 2.5-3.2 times slower end to end: its Python work per image shares one GIL. With the resize
kernels, GPU decoders in threads of one process still took varied files at 7.2-7.8k images/s
without the model, against 11.7k end to end for 8 workers (docs/results-h200.md).

Two GPU decoders, in the order "gpu" tries them:
- nvjpeg: torchvision's (or TorchCodec's) batched nvJPEG. Where the GPU has hardware JPEG engines
  (A100, H100, H200 ...) torchvision creates it with nvJPEG's hardware backend, and the call returns
  once the engines have decoded the batch. It serializes calls within a process and spends 50-80 us
  of host CPU per image, so every worker has its own.
- nvimgcodec: NVIDIA's nvImageCodec, an optional dependency; its hardware JPEG engines (A100,
  H100, H200 ...) share the batch with its CUDA decoder. Its inputs are within one or two grey
  levels of PIL's (nvJPEG's about 1.2-2 on average), but on an H200 it ran varied files 25-30%
  slower and its 8 workers started in 10-11 s against nvJPEG's 4-6 s (docs/results-h200.md).
"""

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from .batches import BadImage, Laps, WorkerBatch, collate_samples
from .device import synchronize
from .errors import UserError
from .jpeg_info import jpeg_info
from .preprocess import DECODE_ERRORS, RGB, Preprocess, crop_on_cpu, decode_jpeg
from .resample import resize_crop_batch

GPU_DECODERS = ("nvjpeg", "nvimgcodec")   # the order "gpu" tries them in: the faster first
CPU_THREADS_PER_WORKER = 2  # decode a batch's CPU files beside its GPU decode
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


def _views(spans: list) -> list:
    """Spans (buffer, start, length) as uint8 views, one split per buffer; BadImages stay as they are.
    A buffer's spans follow one another from the first one's start."""
    views, by_buffer = list(spans), {}
    for index, span in enumerate(spans):
        if not isinstance(span, BadImage):
            by_buffer.setdefault(id(span[0]), (span[0], []))[1].append(index)
    for buffer, indices in by_buffer.values():
        start, lengths = spans[indices[0]][1], [spans[index][2] for index in indices]
        for index, view in zip(indices, buffer[start:start + sum(lengths)].split(lengths)):
            views[index] = view
    return views


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
    """The first of GPU_DECODERS that runs here; None when neither does."""
    for name in GPU_DECODERS:
        try:
            return make_gpu_decoder(name, device).name
        except UserError:
            continue
    return None


class DecodeOnDevice:
    """The gpu paths' collate_fn, run in each loader worker: samples -> WorkerBatch of device crops.

    The batch's files go through one batched decoder call; every image is resized and cropped
    together whatever its size (resample.resize_crop_batch); the crops the worker decoded on the
    CPU join them in batch order, and the batch comes back on the device (CUDA IPC). A file the
    decoder refuses after all (damaged, or a kind its header did not betray) is decoded on the
    CPU here, as PIL would, and counted; one the CPU cannot decode either is a bad file.
    """

    def __init__(self, device, prep: Preprocess, decoder: str):
        self.device, self.prep, self.decoder_name = torch.device(device), prep, decoder
        # made in the worker: none crosses processes
        self._decoder = self._cpu_threads = self._staging = self._staging_array = None
        self._last_batch_done = None

    @property
    def cpu_threads(self) -> ThreadPoolExecutor:
        if self._cpu_threads is None:
            self._cpu_threads = ThreadPoolExecutor(CPU_THREADS_PER_WORKER, thread_name_prefix="cpu-decode")
        return self._cpu_threads

    @property
    def decoder(self):
        if self._decoder is None:
            self._decoder = make_gpu_decoder(self.decoder_name, self.device)
        return self._decoder

    def warm_up(self) -> dict:
        """The device's context, the decoder and the resize (its kernels' one trial,
        resample.kernels_unavailable), before the first batch: seconds each took."""
        started = time.perf_counter()
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)    # else the worker's pinned buffers start a context on GPU 0
        torch.zeros(1, device=self.device)
        synchronize(self.device)
        context = time.perf_counter()
        images = self.decoder.decode([_sample_jpeg()])
        synchronize(self.device)
        decoder = time.perf_counter()
        resize_crop_batch(images, self.prep)
        synchronize(self.device)
        return {"context_s": context - started, "decoder_s": decoder - context,
                "resize_s": time.perf_counter() - decoder}

    def __call__(self, samples) -> WorkerBatch:
        laps = Laps()
        batch = collate_samples(samples)
        # the CPU's files decode in threads (libjpeg-turbo and Pillow release the GIL) beside the GPU's
        on_cpu = [(file.slot, file.path, False, self._crop_on_cpu(file.data))
                  for file in batch.cpu_files]      # (slot, path, no GPU decoder takes it, future crop)
        laps("collate")
        parts, slots = [], []
        if batch.crops is not None:
            parts.append(batch.crops.to(self.device, non_blocking=True))
            slots += batch.crop_slots
        if batch.encoded_paths:
            to_gpu = []     # (slot, path, bytes) of the files a GPU decoder takes
            for slot, path, data in zip(batch.encoded_slots, batch.encoded_paths, self._read(batch.encoded_paths)):
                if isinstance(data, BadImage):
                    batch.bad.append(data)
                elif jpeg_info(data.numpy()).gpu_decodable:
                    to_gpu.append((slot, path, data))
                else:       # CMYK, progressive, not a JPEG ...
                    on_cpu.append((slot, path, True, self._crop_on_cpu(data)))
            laps("read")
            if self._last_batch_done is not None:
                # torchvision's nvJPEG writes on a stream of its own, into memory the last batch's resize
                # may still be reading; by now it seldom is
                self._last_batch_done.synchronize()
            laps("device_wait")
            images = self.decoder.decode([data for _, _, data in to_gpu]) if to_gpu else []
            laps("decode")
            decoded = [(slot, image) for (slot, _, _), image in zip(to_gpu, images) if image is not None]
            if decoded:
                parts.append(resize_crop_batch([image for _, image in decoded], self.prep))
                slots += [slot for slot, _ in decoded]
            laps("resize")
            # refused after all: damaged, or a kind its header did not betray
            on_cpu += [(slot, path, True, self._crop_on_cpu(data.clone()))
                       for (slot, path, data), image in zip(to_gpu, images) if image is None]
        cpu_crops = []
        for slot, path, fallback, crop in on_cpu:
            try:
                cpu_crops.append(crop.result())
            except DECODE_ERRORS as error:
                batch.bad.append(BadImage.from_error(path, error))
                continue
            slots.append(slot)
            batch.cpu_fallback += fallback
        laps("cpu_wait")
        if cpu_crops:
            parts.append(torch.stack(cpu_crops).to(self.device, non_blocking=True))
        batch.encoded_slots, batch.encoded_paths = [], []
        batch.cpu_files = []
        if parts:
            crops = torch.cat(parts) if len(parts) > 1 else parts[0]
            order = sorted(range(len(slots)), key=slots.__getitem__)
            if order != list(range(len(slots))):
                crops = crops[torch.tensor(order).to(self.device, non_blocking=True)]
            batch.crops, batch.crop_slots = crops, [slots[i] for i in order]
        laps("assemble")
        if self.device.type == "cuda":     # the main process's stream waits for the batch through the CUDA IPC event
            self._last_batch_done = torch.cuda.Event()
            self._last_batch_done.record(torch.cuda.current_stream(self.device))
        batch.stage_s = laps.seconds
        return batch

    def _read(self, paths: list) -> list:
        """Each file's bytes as a uint8 view of a buffer the worker reuses, pinned on CUDA, read
        straight into it: one copy from the page cache and no allocation per batch (the batch is
        complete before the next). The views come from one split per buffer, not a slice per file: on
        an H200's 16 cores that took the read of a varied batch from 21-23 ms to 16.5-19 (docs/results-h200.md).
        A BadImage for a file that cannot be read or is empty."""
        spans, used = [], 0      # per file: (buffer, start, bytes read), or a BadImage
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    size = os.fstat(fd).st_size
                    if self._staging is None or used + size > self._staging.numel():
                        # a bigger buffer; the files already read keep the old one alive through their views
                        capacity = 0 if self._staging is None else self._staging.numel()
                        self._staging = torch.empty(max(2 * capacity, 4 * size, 1 << 20), dtype=torch.uint8,
                                                    pin_memory=self.device.type == "cuda")
                        self._staging_array, used = self._staging.numpy(), 0
                    length = os.readv(fd, [self._staging_array[used:used + size]]) if size else 0
                finally:
                    os.close(fd)
                if not length:
                    raise OSError("empty file")
            except OSError as error:
                spans.append(BadImage.from_error(path, error))
                continue
            spans.append((self._staging, used, length))
            used += length
        return _views(spans)

    def _crop_on_cpu(self, encoded: torch.Tensor) -> Future:
        """A future crop of one file's encoded bytes (uint8), from the worker's CPU threads."""
        return self.cpu_threads.submit(crop_on_cpu, encoded, self.prep)


def resolve_decode(requested, device: torch.device) -> str:
    """The decode path a run uses: pil, cpu or a name in GPU_DECODERS.

    None picks the best GPU decoder that runs here, else cpu; "gpu" the best one, or an error.
    """
    if requested in ("pil", "cpu"):
        return requested
    if device.type != "cuda":
        if requested is None:
            return "cpu"
        raise UserError(f"decoding with {requested}: GPU JPEG decoding needs a CUDA device (this run: {device})")
    if requested in GPU_DECODERS:
        return make_gpu_decoder(requested, device).name
    best = best_gpu_decoder(device)
    if best is None and requested == "gpu":
        raise UserError(f"GPU JPEG decoding (nvImageCodec or nvJPEG) does not run here (this run: {device})")
    return best or "cpu"
