"""The inference benchmark: model-only and end-to-end throughput, latency and accuracy.

One "cell" is one mode at one batch size. A plain run is one cell; --batch-sizes and --sweep run
many in one process. Each cell warms up on a synthetic batch of every shape it will see (cuDNN
autotuning, compilation and graph capture happen there), then times every batch's forward with
the batch already on the device.
"""

import time

import torch
from tqdm import tqdm

from . import distributed
from .data import make_loader, synthetic_batch
from .batches import undecodable
from .device import empty_cache, is_out_of_memory, peak_memory_mib, reset_peak_memory, synchronize
from .modes import Runner
from .prefetch import Prefetcher
from .timing import RegionTimer, clock_name, latency_stats


def topk_correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[top-1 hits, top-5 hits] in this batch, left on the device so nothing synchronizes."""
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    hits = top == labels[:, None]
    return torch.stack([hits[:, 0].sum(), hits.any(dim=1).sum()])


def _warm_up_shapes(runner: Runner, batch_sizes, warmup: int, seed: int) -> None:
    for batch in sorted(set(batch_sizes), reverse=True):
        runner.warm_up(synthetic_batch(batch, "cpu", seed=seed), warmup)


def evaluate(runner: Runner, dataset, indices, batch_size: int, workers: int, warmup: int, feeder,
             skip_bad_images: bool = False, context=None, progress: bool = True,
             keep_logits: bool = False) -> dict:
    """Score `indices` of `dataset`; time each forward; clock the loop end to end.

    Batches are prepared in background threads (prefetch.Prefetcher) while the model runs. Per
    batch, four times: how long the model's thread waited for it (the stall), how long the
    prepare thread waited for the loader's workers (which decode), how long that thread then
    spent on it (copy, normalize; overlapped with the model), and the forward's own time on the
    device. Before the clock starts, the loader's warm-up pass gives each worker one batch
    (starting the worker and, on the gpu path, its CUDA context and nvJPEG); its time is kept
    apart as startup_s.
    """
    device = runner.device
    context = context or distributed.DistContext()
    shapes = {batch_size} if len(indices) >= batch_size else set()
    if len(indices) % batch_size:
        shapes.add(len(indices) % batch_size)
    _warm_up_shapes(runner, shapes, warmup, seed=0)

    loader = make_loader(dataset, indices, batch_size, workers, device)
    created_at, started = time.time(), time.perf_counter()
    reports = [batch.startup for batch in loader if batch.startup]  # the warm-up pass; its batches come again
    startup_s = time.perf_counter() - started
    timer = RegionTimer(device)
    hits, batch_images, waits_s, prepare_times, bad_images, kept_logits = [], [], [], [], [], []
    cpu_fallback = 0
    distributed.barrier(context, device)
    started = time.perf_counter()
    batches = iter(Prefetcher(loader, feeder))
    try:
        with torch.inference_mode():
            for _ in tqdm(range(len(loader)), desc="batches", unit="batch", disable=not progress,
                          leave=False, dynamic_ncols=True):
                wait_start = time.perf_counter()
                images, labels, worker_batch, times = next(batches)
                waits_s.append(time.perf_counter() - wait_start)
                prepare_times.append(times)
                cpu_fallback += worker_batch.cpu_fallback
                bad = worker_batch.bad
                if bad:
                    if not skip_bad_images:
                        raise undecodable(bad[0], "; remove or replace it, or pass --skip-bad-images")
                    bad_images += [item.path for item in bad]
                if images is None:
                    continue
                runner.load(images)
                timer.start()
                logits = runner.run()
                timer.stop()
                hits.append(topk_correct(logits, labels))
                batch_images.append(images.shape[0])
                if keep_logits:
                    kept_logits.append(logits.float())
    finally:
        batches.close()   # stops the background thread, also when a bad image ends the run
    synchronize(device)
    ended = time.perf_counter()
    distributed.barrier(context, device)
    window_s = time.perf_counter() - started
    per_batch_hits = torch.stack(hits).cpu().tolist() if hits else []
    return {"batch_times_ms": timer.times_ms(), "batch_images": batch_images,
            "batch_top1": [h[0] for h in per_batch_hits], "batch_top5": [h[1] for h in per_batch_hits],
            "data_wait_s": waits_s, "loader_wait_s": [t.loader_wait_s for t in prepare_times],
            "prepare_s": [t.prepare_s for t in prepare_times], "startup_s": startup_s,
            "startup_breakdown": startup_breakdown(created_at, reports),
            "wall_s": ended - started, "window_s": window_s,
            "bad_images": bad_images, "cpu_fallback_images": cpu_fallback, "logits": torch.cat(kept_logits).cpu() if kept_logits else None}


def startup_breakdown(created_at: float, reports: list) -> dict:
    """Where the loader's start-up went, from each worker's first-batch report (data.StartupClock)."""
    if not reports:
        return {}
    return {"workers_reporting": len(reports),
            "last_worker_started_s": max(r["worker_started_at"] for r in reports) - created_at,
            "worker_init_s_max": max(r["worker_init_s"] for r in reports),
            "first_fetch_s_max": max(r["first_fetch_s"] for r in reports),
            "first_collate_s_max": max(r["first_collate_s"] for r in reports)}


def benchmark_synthetic(runner: Runner, batch_size: int, num_batches: int, warmup: int, seed: int,
                        context=None, progress: bool = True) -> dict:
    """Time `num_batches` forwards of one random batch kept on the device."""
    device = runner.device
    context = context or distributed.DistContext()
    images = synthetic_batch(batch_size, "cpu", seed=seed)
    _warm_up_shapes(runner, [batch_size], warmup, seed)
    runner.load(images)
    timer = RegionTimer(device)
    distributed.barrier(context, device)
    started = time.perf_counter()
    with torch.inference_mode():
        for _ in tqdm(range(num_batches), desc="batches", unit="batch", disable=not progress,
                      leave=False, dynamic_ncols=True):
            timer.start()
            runner.run()
            timer.stop()
    synchronize(device)
    wall_s = time.perf_counter() - started
    distributed.barrier(context, device)
    window_s = time.perf_counter() - started
    return {"batch_times_ms": timer.times_ms(), "batch_images": [batch_size] * num_batches,
            "batch_top1": [], "batch_top5": [], "data_wait_s": [], "wall_s": wall_s,
            "window_s": window_s, "bad_images": []}


def run_cell(model, mode, device, batch_size, args, dataset=None, indices=None, context=None,
             verify_input=None, feeder=None) -> dict:
    """Prepare the mode, warm up, measure; out-of-memory becomes an 'oom' status for the caller."""
    reset_peak_memory(device)
    try:
        runner = Runner(model, mode, device, verify_input=verify_input)
        runner.check_support(synthetic_batch(1, "cpu"))
        if dataset is None:
            raw = benchmark_synthetic(runner, batch_size, args.num_batches or 50, args.warmup, args.seed,
                                      context=context, progress=not args.quiet)
        else:
            raw = evaluate(runner, dataset, indices, batch_size, args.workers, args.warmup, feeder,
                           skip_bad_images=args.skip_bad_images, context=context, progress=not args.quiet)
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        runner = None
        empty_cache(device)
        return {"status": "oom", "error": str(error).splitlines()[0]}
    raw.update(status="ok", compile_time_s=runner.compile_time_s if mode.compiled else None,
               peak_memory_mib=peak_memory_mib(device), rewrite_check=runner.rewrite_check,
               clock=clock_name(device))
    del runner
    empty_cache(device)
    return raw


def cell_metrics(raw: dict, measured_accuracy: bool) -> dict:
    """The original's keys (seconds, fractions) plus percentiles, both throughputs and accuracy."""
    times_ms = raw["batch_times_ms"]
    images = sum(raw["batch_images"])
    model_time_s = sum(times_ms) / 1e3
    stats = latency_stats(times_ms)
    top1 = sum(raw["batch_top1"]) / images if measured_accuracy and images else None
    top5 = sum(raw["batch_top5"]) / images if measured_accuracy and images else None
    wait_s = sum(raw["data_wait_s"])
    e2e_s = raw["wall_s"] if measured_accuracy else None
    metrics = {
        "total_images": images,
        "total_time": model_time_s,
        "images_per_second": images / model_time_s if model_time_s else None,
        "avg_batch_time": stats["mean"] / 1e3,
        "std_batch_time": stats["std"] / 1e3,
        "min_batch_time": stats["min"] / 1e3,
        "max_batch_time": stats["max"] / 1e3,
        "avg_accuracy": top1,
        "top1_accuracy": top1,
        "top5_accuracy": top5,
        "model_images_per_second": images / model_time_s if model_time_s else None,
        "end_to_end_images_per_second": images / e2e_s if e2e_s else None,
        "end_to_end_time_s": e2e_s,
        "startup_time_s": raw["startup_s"] if measured_accuracy else None,   # the loader's warm-up pass
        "startup_breakdown": raw.get("startup_breakdown") if measured_accuracy else None,
        "data_wait_time_s": wait_s if measured_accuracy else None,
        # share of the end-to-end time the model's thread sat waiting for a batch
        "stall_fraction": wait_s / e2e_s if e2e_s else None,
        # share of it the prepare thread sat waiting for the loader's workers
        "loader_wait_fraction": sum(raw["loader_wait_s"]) / e2e_s if e2e_s else None,
        "prepare_time_s": sum(raw["prepare_s"]) if measured_accuracy else None,   # overlapped with the model
        "compile_time_s": raw.get("compile_time_s"),
        "peak_memory_mib": raw.get("peak_memory_mib"),
        "skipped_bad_images": len(raw.get("bad_images", [])),
        # files a GPU decoder could not take (CMYK, progressive ...), decoded on the CPU instead
        "cpu_fallback_images": raw.get("cpu_fallback_images") if measured_accuracy else None,
    }
    metrics.update({f"batch_time_ms_{key}": value for key, value in stats.items()})
    return metrics
