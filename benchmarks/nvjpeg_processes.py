#!/usr/bin/env python3
"""nvJPEG's throughput when several processes decode at once, against one.

torchvision serializes nvJPEG calls within a process; this measures whether separate processes
(each with its own decoder) add up, which is why the gpu path decodes in its loader workers.
Each process decodes the same batch of files over and over for a few seconds, all starting
together after their start-up (a barrier); the total images/s of all processes is reported. Usage:
  python benchmarks/nvjpeg_processes.py DATA --processes 1,2,4,8 --batch-size 256
"""

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path


def decode_for(paths: list, seconds: float, start_together, results) -> None:
    import torch
    import torchvision.io as tvio
    device = torch.device("cuda")
    files = [tvio.read_file(path) for path in paths]
    tvio.decode_jpeg(files, device=device)   # start-up, untimed
    torch.cuda.synchronize(device)
    start_together.wait()
    images, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        tvio.decode_jpeg(files, device=device)
        torch.cuda.synchronize(device)
        images += len(files)
    results.put(images / (time.perf_counter() - started))


def total_rate(paths: list, processes: int, seconds: float) -> int:
    context = multiprocessing.get_context("spawn")
    results, start_together = context.Queue(), context.Barrier(processes)
    workers = [context.Process(target=decode_for, args=(paths, seconds, start_together, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    rates = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return round(sum(rates))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--processes", default="1,2,4,8")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    paths = sorted(str(p) for p in args.data.rglob("*.JPEG"))[: args.batch_size]
    rates = {n: total_rate(paths, n, args.seconds) for n in map(int, args.processes.split(","))}
    print(json.dumps({"batch_size": len(paths), "total_images_per_second_by_processes": rates}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
