#!/usr/bin/env python3
"""How many images/s the machine's decoders give together: processes of each kind at once.

Each process is a fresh interpreter holding the first --files files of one set in memory, and
decodes batches of 256 with one decoder, resizing the GPU's images as the pipeline does
(resample.resize_crop_batch), until told to stop; all start together after their warm-up. Kinds:
- tv: torchvision's batched nvJPEG (the gpu path's default; the hardware engines where present);
- cpu: libjpeg-turbo on one core, crop as the cpu path does (preprocess.crop_on_cpu).
A mix reads like "tv*8+cpu*4". Against the pipeline's own figures (alexnet_benchmark.py's
worker_stage_ms_per_batch), it says how much of a worker's time per batch the decoder alone needs.
Usage: decoder_mix.py DATA_DIR (holding same/ and varied/) --mixes "tv*8" "tv*8+cpu*6" [--seconds 3]
"""

import argparse
import multiprocessing
import queue
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

BATCH = 256


def make_decode(kind: str):
    """A function from a batch of encoded files to the number of images it produced."""
    import torch

    from cnnbench.gpu_decode import NvjpegDecoder
    from cnnbench.preprocess import Preprocess, crop_on_cpu
    from cnnbench.resample import resize_crop_batch

    prep = Preprocess()
    if kind == "cpu":
        return lambda files: len([crop_on_cpu(f, prep) for f in files])
    decoder = NvjpegDecoder(torch.device("cuda"))

    def decode(files):
        images = [image for image in decoder.decode(files) if image is not None]
        resize_crop_batch(images, prep)
        torch.cuda.current_stream().synchronize()
        return len(images)
    return decode


def run_one(kind: str, index: int, folder: str, files: int, ready, stop, results) -> None:
    try:
        decode_until_stopped(kind, index, folder, files, ready, stop, results)
    finally:
        ready.abort()     # one that failed to start frees the others and the parent; after the start a no-op


def decode_until_stopped(kind: str, index: int, folder: str, files: int, ready, stop, results) -> None:
    import torch

    # one intra-op thread per process, as the loader's workers have: the default, one per core,
    # makes 8 processes run 128 threads on 16 cores
    torch.set_num_threads(1)
    from cnnbench.jpeg_info import jpeg_info

    data = [p.read_bytes() for p in sorted(Path(folder).rglob("*.JPEG"))[:files]]
    encoded = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in data if jpeg_info(d).gpu_decodable]
    if kind != "cpu":
        encoded = [e.pin_memory() for e in encoded]
    batches = [encoded[i:i + BATCH] for i in range(0, len(encoded), BATCH)]
    decode = make_decode(kind)
    decode(batches[0])
    ready.wait(timeout=90)
    images, started, position = 0, time.perf_counter(), index
    while not stop.is_set():
        images += decode(batches[position % len(batches)])
        position += 1
    results.put((kind, images, time.perf_counter() - started))


def kinds_of(mix: str) -> list:
    """"tv*8+cpu*2" -> eight "tv" and two "cpu"; ValueError for anything else."""
    kinds = []
    for part in mix.split("+"):
        kind, _, count = part.partition("*")
        kinds += [kind] * int(count or 1)
    if set(kinds) - {"tv", "cpu"}:
        raise ValueError(f"unknown decoder kind in {mix}; kinds: tv, cpu")
    return kinds


def run_mix(kinds: list, folder: Path, files: int, seconds: float) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Barrier(len(kinds) + 1), context.Event(), context.Queue()
    processes = [context.Process(target=run_one, args=(kind, i, str(folder), files, ready, stop, results))
                 for i, kind in enumerate(kinds)]
    for process in processes:
        process.start()
    try:
        ready.wait(timeout=90)
        time.sleep(seconds)
        stop.set()
        rates = {}
        for _ in processes:
            kind, images, elapsed = results.get(timeout=60)
            rates[kind] = rates.get(kind, 0) + images / elapsed
        return rates
    finally:
        for process in processes:
            process.join(timeout=5)
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--mixes", nargs="+", default=["tv*8"])
    parser.add_argument("--sets", nargs="+", default=["same", "varied"])
    parser.add_argument("--files", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    try:
        mixes = {mix: kinds_of(mix) for mix in args.mixes}
    except ValueError as error:
        parser.error(str(error))
    failed = 0
    for name in args.sets:
        for mix, kinds in mixes.items():
            try:
                rates = run_mix(kinds, args.data / name, args.files, args.seconds)
            except (threading.BrokenBarrierError, queue.Empty):   # a process failed (its traceback is above)
                print(f"{name:<7} {mix:<22} failed: a decoder process did not start or did not report", flush=True)
                failed += 1
                continue
            parts = ", ".join(f"{kind} {rate:,.0f}" for kind, rate in rates.items())
            print(f"{name:<7} {mix:<22} {sum(rates.values()):>8,.0f} images/s ({parts})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
