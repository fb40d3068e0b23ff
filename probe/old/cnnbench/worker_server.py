"""The fork server the gpu decode paths' loader workers start from. Standard library only, so a
script can start it before its own imports.

A forked copy of a process that has initialised CUDA cannot use CUDA, so the workers of a GPU
decoder come from a fork server: a fresh interpreter that imports torch and torchvision once
and forks each worker from there in milliseconds. Those imports take 8-11 s on an H200 machine;
started first thing, they run beside the script's own imports instead of after them.

The server does not import this package: it resolves imports against the directory the command
ran from (multiprocessing passes it neither the script nor its sys.path), so another checkout's
cnnbench there would be the one every worker ran. Each worker imports it from the script's own
path, in milliseconds once torch is loaded.
"""

import multiprocessing
import os
from multiprocessing import forkserver

PRELOAD = ["torch", "torchvision"]


def cuda_capable_workers():
    """The multiprocessing context for workers that use CUDA: the fork server, or spawn (a fresh
    interpreter per worker) where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_worker_server() -> None:
    """Start the fork server now (once per process; later calls find it running)."""
    if cuda_capable_workers().get_start_method() == "forkserver":
        forkserver.ensure_running()


def start_worker_server_early() -> None:
    """Start it on a machine with an NVIDIA driver, before the caller knows whether its run will
    decode on the GPU: an unused server is one idle process, a needed one is ready seconds sooner."""
    if os.path.exists("/dev/nvidiactl"):
        start_worker_server()
