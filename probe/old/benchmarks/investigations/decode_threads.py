#!/usr/bin/env python3
"""Could one process feed the model? GPU decoders in threads of one process, with the resize, beside CPU decoding.

Files already in memory (the first --files of each set). Measures, for batches of 256:
- the batched resize alone in one thread, Triton kernels against the matrix form (resample.py);
- GPU decoders plus the resize in threads of one process, each thread on its own CUDA stream:
  torchvision's nvJPEG (tv), nvImageCodec's hardware engines alone (hw), and nvImageCodec as the
  gpu path makes it (hardware plus its CUDA decoder, "nvimgcodec");
- tv + hw threads beside a pool of forked CPU processes decoding with libjpeg-turbo
  (preprocess.crop_on_cpu), both running at once.
The pipeline's own design (one GPU decoder per loader process) is what to beat:
alexnet_benchmark.py on the same folders. Usage: decode_threads.py DATA_DIR (holding same/ and
varied/, from make_jpegs.py) [--files 4096] [--seconds 2] [--cpu-processes 12]
"""

import argparse
import multiprocessing
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.gpu_decode import NvImageCodecDecoder, NvjpegDecoder  # noqa: E402
from cnnbench.jpeg_info import jpeg_info  # noqa: E402
from cnnbench.preprocess import Preprocess, crop_on_cpu  # noqa: E402
from cnnbench.resample import resize_crop_kernels, resize_crop_matmul  # noqa: E402

BATCH = 256
CUDA = torch.device("cuda")
PREP = Preprocess()
THREAD_SETS = (("tv",), ("nvimgcodec",), ("hw", "tv"), ("hw", "hw", "tv"))
_cpu_files = []     # what the forked CPU processes decode (inherited through fork)


class HardwareOnly(NvImageCodecDecoder):
    """nvImageCodec with its hardware JPEG engines alone."""

    def __init__(self, device):
        super().__init__(device)
        from nvidia import nvimgcodec
        self.decoder = nvimgcodec.Decoder(device_id=device.index or 0,
                                          backends=[nvimgcodec.Backend(nvimgcodec.BackendKind.HW_GPU_ONLY)])


def make_decoder(name: str):
    return {"tv": NvjpegDecoder, "hw": HardwareOnly, "nvimgcodec": NvImageCodecDecoder}[name](CUDA)


def load(folder: Path, count: int) -> tuple:
    """(pinned GPU-decodable files, every file) as uint8 tensors."""
    data = [path.read_bytes() for path in sorted(folder.rglob("*.JPEG"))[:count]]
    everything = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in data]
    return [f.pin_memory() for f, d in zip(everything, data) if jpeg_info(d).gpu_decodable], everything


def resize_rate(files: list, resize, seconds: float) -> float:
    decoder = make_decoder("tv")
    decoded = [decoder.decode(files[i:i + BATCH]) for i in range(0, min(len(files), 8 * BATCH), BATCH)]
    resize(decoded[0], PREP)       # compile the kernels
    torch.cuda.synchronize()
    images, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for batch in decoded:
            resize(batch, PREP)
            images += len(batch)
    torch.cuda.synchronize()
    return images / (time.perf_counter() - started)


def threads_rate(names: tuple, files: list, seconds: float) -> tuple:
    """(images/s of all threads together, per thread): each thread decodes and resizes every
    len(names)-th batch, on its own stream, until the time is up."""
    batches = [files[i:i + BATCH] for i in range(0, len(files), BATCH)]
    decoders = [make_decoder(name) for name in names]
    counts, stop = [0] * len(names), threading.Event()
    ready = threading.Barrier(len(names) + 1)

    def work(index: int) -> None:
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            resize_crop_kernels([i for i in decoders[index].decode(batches[0]) if i is not None], PREP)
            stream.synchronize()
            ready.wait()
            position = index
            while not stop.is_set():
                batch = batches[position % len(batches)]
                position += len(names)
                images = [image for image in decoders[index].decode(batch) if image is not None]
                resize_crop_kernels(images, PREP)
                counts[index] += len(batch)
                if position % 4 == 0:
                    stream.synchronize()   # keep the queue of work short
            stream.synchronize()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(names))]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(counts) / elapsed, [round(count / elapsed) for count in counts]


def _crop_range(bounds: tuple) -> int:
    for data in _cpu_files[bounds[0]:bounds[1]]:
        crop_on_cpu(data, PREP)
    return bounds[1] - bounds[0]


def beside_cpu(names: tuple, gpu_files: list, cpu_files: list, processes: int, seconds: float) -> tuple:
    """(GPU threads' images/s, CPU processes' images/s), both running at once."""
    _cpu_files[:] = cpu_files
    torch.set_num_threads(1)
    chunks = [(i, min(i + 16, len(cpu_files))) for i in range(0, len(cpu_files), 16)]
    pool = multiprocessing.get_context("fork").Pool(processes)      # the children never touch CUDA
    pool.map(_crop_range, chunks[:processes])
    stop, done = threading.Event(), [0, 0.0]

    def feed() -> None:
        started = time.perf_counter()
        while not stop.is_set():
            for images in pool.imap_unordered(_crop_range, chunks):
                done[0] += images
                if stop.is_set():
                    break
        done[1] = time.perf_counter() - started

    feeder = threading.Thread(target=feed)
    feeder.start()
    gpu_rate, _ = threads_rate(names, gpu_files, seconds)
    stop.set()
    feeder.join()
    pool.terminate()
    return gpu_rate, done[0] / done[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--files", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cpu-processes", type=int, default=12)
    args = parser.parse_args()
    for name in ("same", "varied"):
        gpu_files, every_file = load(args.data / name, args.files)
        print(f"## {name}: {len(gpu_files)} of {len(every_file)} files GPU-decodable", flush=True)
        for label, resize in (("kernels", resize_crop_kernels), ("matrix form", resize_crop_matmul)):
            print(f"resize alone, {label}, one thread: {resize_rate(gpu_files, resize, args.seconds):,.0f} images/s")
        for names in THREAD_SETS:
            total, per_thread = threads_rate(names, gpu_files, args.seconds)
            print(f"decode + resize in threads {'+'.join(names):<12} {total:>8,.0f} images/s (per thread {per_thread})",
                  flush=True)
        gpu_rate, cpu_rate = beside_cpu(("hw", "tv"), gpu_files, every_file, args.cpu_processes, args.seconds)
        print(f"hw+tv threads beside {args.cpu_processes} CPU processes: {gpu_rate:,.0f} + {cpu_rate:,.0f} "
              f"= {gpu_rate + cpu_rate:,.0f} images/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
