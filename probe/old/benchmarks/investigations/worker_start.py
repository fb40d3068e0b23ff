#!/usr/bin/env python3
"""Where a gpu-path loader worker's start goes, step by step, and what it contends with.

N processes are forked at once from this one, which has imported torch and cnnbench.data but not
touched CUDA (as the loader's fork server has); each runs the worker's own initialisation,
gpu_decode.DecodeOnDevice.warm_up (the device's context, the decoder with its first image, the first
resize), and reports each step's seconds. Every count of processes runs twice: alone, and beside
a process that keeps the GPU busy with matrix products, as the model's warm-up does during a real
start-up. Prints the median and the longest of each step.
Usage: python benchmarks/investigations/worker_start.py [--processes 1,8] [--decoders nvjpeg,nvimgcodec]
       [--device cuda]   (--device cpu runs the same steps through the CPU form of nvjpeg, as a check)
"""

import argparse
import multiprocessing
import statistics
import sys
from pathlib import Path

import torch
from torchvision.models import AlexNet_Weights

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.gpu_decode import DecodeOnDevice  # noqa: E402
from cnnbench.preprocess import Preprocess  # noqa: E402

STEPS = ("context_s", "decoder_s", "resize_s")


def worker(device: str, decoder: str, start, results) -> None:
    start.wait()
    torch.set_num_threads(1)      # as data.WorkerClock sets it in a loader worker
    collate = DecodeOnDevice(device, Preprocess.from_transforms(AlexNet_Weights.DEFAULT.transforms()), decoder)
    results.put(collate.warm_up())


def keep_busy(device: str, ready, stop) -> None:
    """Matrix products on the device until told to stop: another process's work the GPU time-slices with."""
    a = torch.randn(4096, 4096, device=device)
    ready.set()
    while not stop.is_set():
        for _ in range(8):
            a = torch.nn.functional.normalize(a @ a, dim=1)
        if a.is_cuda:
            torch.cuda.synchronize()


def start_together(device: str, decoder: str, processes: int, busy: bool) -> list:
    context = multiprocessing.get_context("fork")     # this process never touches CUDA itself
    start, results = context.Barrier(processes + 1), context.Queue()
    ready, stop = context.Event(), context.Event()
    load = context.Process(target=keep_busy, args=(device, ready, stop)) if busy else None
    if load is not None:
        load.start()
        ready.wait()
    workers = [context.Process(target=worker, args=(device, decoder, start, results)) for _ in range(processes)]
    for process in workers:
        process.start()
    start.wait()
    reports = [results.get(timeout=300) for _ in workers]
    for process in workers:
        process.join()
    if load is not None:
        stop.set()
        load.join()
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,8", help="comma-separated counts started together")
    parser.add_argument("--decoders", default="nvjpeg,nvimgcodec")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    print(f"{'decoder':<11} {'processes':>9} {'GPU busy':>8}  " +
          "  ".join(f"{step[:-2] + ' median/max':>22}" for step in STEPS))
    for decoder in args.decoders.split(","):
        for processes in map(int, args.processes.split(",")):
            for busy in (False, True):
                reports = start_together(args.device, decoder, processes, busy)
                cells = [f"{statistics.median(r[step] for r in reports):10.2f} /{max(r[step] for r in reports):6.2f} s"
                         for step in STEPS]
                print(f"{decoder:<11} {processes:>9} {'yes' if busy else 'no':>8}  " + "  ".join(f"{c:>22}" for c in cells),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
