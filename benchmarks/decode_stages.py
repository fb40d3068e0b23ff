#!/usr/bin/env python3
"""Where the GPU decode path spends its time, stage by stage, on real JPEGs.

Per batch, what one loader worker does: reading the files, nvJPEG's batched decode, stacking +
resize + crop (the logs of the first runs name this stage resize_crop_normalize; it never
included the normalize), and the whole collate (decode.DecodeOnDevice: one buffer, pinned,
decoded, cropped, merged). Then nvJPEG's rate by batch size, from
pageable and pinned buffers, with the host CPU time it burns per image; whether nvJPEG lets other
Python threads run while it decodes (the share of a pure-Python counting loop's speed kept while
decoding in a thread); and one CPU core's rate for the cpu path (torchvision.io decode + box
resize of the crop), and for the decode alone.
Usage: python benchmarks/decode_stages.py DATA --batch-size 256 --batches 8
"""

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import torchvision.io as tvio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.decode import (DecodeOnDevice, Preprocess, collate_host, decode_on_cpu, read_encoded,  # noqa: E402
                             resize_and_crop_on_cpu)


def encoded_samples(paths) -> list:
    """What a gpu-path worker's dataset gives for these files (all of them left to nvJPEG)."""
    return [("encoded", (path, read_encoded(path)), 0) for path in paths]


def read_batch(paths):
    return collate_host(encoded_samples(paths))


def files_of(batch, pinned: bool = False) -> list:
    return list(torch.split(batch.encoded.pin_memory() if pinned else batch.encoded, batch.encoded_sizes))


def nvjpeg_rate(files: list, device, repeats: int = 3) -> dict:
    """Images/s of nvJPEG alone on `files`, and host CPU microseconds it used per image."""
    tvio.decode_jpeg(files, device=device)
    torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        tvio.decode_jpeg(files, device=device, mode=tvio.ImageReadMode.RGB)
    torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"images_per_second": round(repeats * len(files) / wall),
            "host_cpu_us_per_image": round(1e6 * cpu / (repeats * len(files)), 1)}


def timed(fn, device):
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = fn()
    torch.cuda.synchronize(device)
    return result, time.perf_counter() - started


def count_for(seconds: float) -> int:
    """Iterations of a pure-Python loop in `seconds`: how much of the GIL this thread gets."""
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    device = torch.device("cuda")
    paths = sorted(str(p) for p in args.data.rglob("*.JPEG"))[: args.batch_size * args.batches]
    batches = [paths[i:i + args.batch_size] for i in range(0, len(paths), args.batch_size)]
    decoder = DecodeOnDevice(device, Preprocess())
    decoder(encoded_samples(batches[0]))   # nvJPEG's start-up
    stages = {"read": [], "decode": [], "stack_resize_crop": [], "worker_total": []}
    for batch in batches:
        samples, seconds = timed(lambda: encoded_samples(batch), device)
        stages["read"].append(seconds)
        encoded = files_of(collate_host(samples), pinned=True)
        images, seconds = timed(lambda: tvio.decode_jpeg(encoded, device=device, mode=tvio.ImageReadMode.RGB), device)
        stages["decode"].append(seconds)
        _, seconds = timed(lambda: decoder.crops(encoded, batch), device)
        stages["stack_resize_crop"].append(seconds - stages["decode"][-1])
        _, seconds = timed(lambda: decoder(samples), device)   # collate, pin, decode, resize, crop, merge
        stages["worker_total"].append(seconds)
    per_image_us = {name: 1e6 * statistics.median(times) / args.batch_size for name, times in stages.items()}

    everything = read_batch(paths[:1024])
    by_batch_size = {}
    for size in (128, 256, 512, 1024):
        by_batch_size[size] = {"pageable": nvjpeg_rate(files_of(everything)[:size], device),
                               "pinned": nvjpeg_rate(files_of(everything, pinned=True)[:size], device)}

    encoded = files_of(read_batch(batches[0]), pinned=True)
    baseline = count_for(0.5)
    done = threading.Event()

    def decode_loop():
        while not done.is_set():
            tvio.decode_jpeg(encoded, device=device, mode=tvio.ImageReadMode.RGB)
            torch.cuda.synchronize(device)
    worker = threading.Thread(target=decode_loop)
    worker.start()
    time.sleep(0.1)
    while_decoding = count_for(0.5)
    done.set()
    worker.join()

    halves = [encoded[: len(encoded) // 2], encoded[len(encoded) // 2:]]
    threads = [threading.Thread(target=lambda part=part: tvio.decode_jpeg(part, device=device)) for part in halves]
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    torch.cuda.synchronize(device)
    two_threads_us = 1e6 * (time.perf_counter() - started) / len(encoded)

    cpu_paths = paths[:200]
    started = time.perf_counter()
    for path in cpu_paths:
        resize_and_crop_on_cpu(decode_on_cpu(tvio.read_file(path)), Preprocess())
    cpu_rate = len(cpu_paths) / (time.perf_counter() - started)
    started = time.perf_counter()
    for path in cpu_paths:
        decode_on_cpu(tvio.read_file(path))
    cpu_decode_rate = len(cpu_paths) / (time.perf_counter() - started)
    print(json.dumps({"batch_size": args.batch_size, "batches": len(batches),
                      "per_image_us": {k: round(v, 1) for k, v in per_image_us.items()},
                      "images_per_second": {k: round(1e6 / v) for k, v in per_image_us.items()},
                      "nvjpeg_by_batch_size": by_batch_size,
                      "decode_us_per_image_two_threads_half_batch_each": round(two_threads_us, 1),
                      "python_speed_kept_while_nvjpeg_decodes": round(while_decoding / baseline, 3),
                      "cpu_path_images_per_second_one_core": round(cpu_rate, 1),
                      "cpu_decode_only_images_per_second_one_core": round(cpu_decode_rate, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
