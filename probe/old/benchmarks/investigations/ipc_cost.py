#!/usr/bin/env python3
"""What handing one batch of crops from a worker process to the main process through CUDA IPC costs.

A spawned producer makes 300 batches of uint8 crops (256 x 3 x 224 x 224, 38.5 MB) on the GPU and
puts each on a multiprocessing queue, as a gpu-path loader worker hands its batch over; the main
process takes each (opening the IPC handle), reads it once on the device and frees it (closing
it). Medians of the host time of each step, the first 20 batches left out. Usage: ipc_cost.py
"""

import statistics
import time

import torch
import torch.multiprocessing as mp

BATCHES = 300


def produce(queue) -> None:
    torch.zeros(1, device="cuda")
    for index in range(BATCHES):
        crops = torch.empty(256, 3, 224, 224, dtype=torch.uint8, device="cuda")
        crops.fill_(index % 255)
        torch.cuda.synchronize()       # as a worker does before handing a batch over
        queue.put(crops)
        del crops
    queue.put(None)
    time.sleep(3)     # the consumer may still hold the last batches


def main() -> int:
    context = mp.get_context("spawn")
    torch.zeros(1, device="cuda")
    queue = context.Queue(maxsize=4)
    producer = context.Process(target=produce, args=(queue,))
    producer.start()
    steps = {"take": [], "use": [], "free": []}
    while True:
        started = time.perf_counter()
        crops = queue.get()
        taken = time.perf_counter()
        if crops is None:
            break
        crops.float().sum()
        used = time.perf_counter()
        del crops
        steps["take"].append(taken - started)
        steps["use"].append(used - taken)
        steps["free"].append(time.perf_counter() - used)
    producer.join()
    medians = {step: 1e3 * statistics.median(times[20:]) for step, times in steps.items()}
    print("CUDA IPC, 38.5 MB batches, median host ms: " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
          + f"; all {sum(medians.values()):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
