#!/usr/bin/env python3
"""Where a gpu-path loader's start-up goes: forking a CUDA process, the fork server, decoder init.

Times (1) os.fork() of this process before and after CUDA is initialised, (2) the first and later
processes started from a fork server that preloads cnnbench.data, (3) for each GPU decoder, 1, 4
and 8 fresh processes started together, each reporting its import, CUDA and decoder times.
Usage: startup_probe.py (on a CUDA machine)
"""

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, {repo!r})
import torch
from cnnbench.gpu_decode import make_gpu_decoder
imported = time.perf_counter()
torch.zeros(1, device="cuda")
cuda = time.perf_counter()
make_gpu_decoder({name!r}, torch.device("cuda"))
print(f"import {{imported - started:.2f}} s, cuda {{cuda - imported:.2f}} s, decoder {{time.perf_counter() - cuda:.2f}} s")
"""


def fork_ms() -> float:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    elapsed = time.perf_counter() - started
    os.waitpid(pid, 0)
    return elapsed * 1e3


def nothing() -> None:
    pass


def main() -> int:
    print(f"fork, CUDA not initialised: {fork_ms():.2f} ms")
    torch.zeros(1, device="cuda")
    print(f"fork, CUDA initialised: {fork_ms():.2f} ms")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cnnbench.data"])
    for index in range(3):
        started = time.perf_counter()
        process = context.Process(target=nothing)
        process.start()
        process.join()
        print(f"fork server process {index}: {time.perf_counter() - started:.2f} s")
    for name in ("nvjpeg", "nvimgcodec"):
        for count in (1, 4, 8):
            started = time.perf_counter()
            children = [subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), name=name)],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                        for _ in range(count)]
            reports = [child.communicate()[0].strip() or "failed" for child in children]
            print(f"{name} x{count} together: {time.perf_counter() - started:.2f} s; {reports}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
