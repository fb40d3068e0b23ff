"""The inference benchmark: model-only and end-to-end throughput, latency and accuracy.

One "cell" is one mode at one batch size. A plain run is one cell; several batch sizes or a sweep
run many in one process. Each cell warms up on a synthetic batch of every shape it will see (cuDNN
autotuning, compilation and graph capture happen there), then times every batch's forward with
the batch already on the device.
"""

import itertools
import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from . import distributed, metrics
from .batches import DeviceFeeder, undecodable
from .benchmark_report import workers_text
from .data import (DataChoice, LoaderStart, choose_indices, default_workers, images_at, make_loader, open_dataset,
                   synthetic_batch)
from .device import (BusySampler, empty_cache, environment, is_out_of_memory, peak_memory_mib, reset_peak_memory,
                     synchronize)
from .errors import UserError
from .fidelity import decode_fidelity
from .gpu_decode import GPU_DECODERS, resolve_decode
from .metrics import latency_stats
from .models import load_model
from .modes import Runner
from .prefetch import PREFETCH_THREADS, Prefetcher
from .preprocess import CODEC_LIBRARY, Preprocess
from .record import add_accuracy_deltas, benchmark_record, provenance
from .resample import resize_form
from .timing import RegionTimer, clock_name
from .worker_server import start_worker_server


def topk_correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[top-1 hits, top-5 hits] in this batch, left on the device so nothing synchronizes."""
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    hits = top == labels[:, None]
    return torch.stack([hits[:, 0].sum(), hits.any(dim=1).sum()])


def _warm_up_shapes(runner: Runner, batch_sizes, warmup: int, seed: int, progress: bool) -> None:
    for batch in sorted(set(batch_sizes), reverse=True):
        runner.warm_up(synthetic_batch(batch, runner.device, seed=seed), warmup, progress=progress)


def evaluate(runner: Runner, dataset, indices, batch_size: int, workers: int, warmup: int, feeder,
             skip_bad_images: bool = False, context=None, progress: bool = True,
             keep_logits: bool = False) -> dict:
    """Score `indices` of `dataset`; time each forward; clock the loop end to end.

    Batches are prepared in background threads (prefetch.Prefetcher) while the model runs. Per
    batch, four times: how long the model's thread waited for it (the stall), how long the
    prepare thread waited for the loader's workers (which decode), how long that thread then
    spent on it (copy, normalize; overlapped with the model), and the forward's own time on the
    device. Before the clock starts, the loader's warm-up pass gives each worker one batch
    (starting the worker and, on the gpu path, its CUDA context and decoder), beside the model's
    warm-up; its time is kept apart as startup_s, and the part the run waited for as startup_wait_s.
    Over the timed pass it records how busy the cores were, and (NVML) the GPU's kernels and JPEG
    decoders (device.BusySampler). Batches are scored as they come; keep_logits also returns the
    logits, in the order of `indices` (its loader then keeps batch order).
    """
    device = runner.device
    context = context or distributed.DistContext()
    shapes = {batch_size} if len(indices) >= batch_size else set()
    if len(indices) % batch_size:
        shapes.add(len(indices) % batch_size)
    # kept logits line up with indices only when batches come back in order
    loader = make_loader(dataset, indices, batch_size, workers, device, in_order=keep_logits)
    # workers from a fork server start while the model warms up; forking this process while its
    # other thread runs the model is not safe, so forked workers start after the warm-up
    loader_start = LoaderStart(loader) if loader.multiprocessing_context is not None else None
    _warm_up_shapes(runner, shapes, warmup, seed=0, progress=progress)
    loader_start = loader_start or LoaderStart(loader)
    reports, startup_s, startup_wait_s = loader_start.wait()
    timer = RegionTimer(device)
    hits, batch_images, waits_s, prepare_times, bad_images, kept_logits = [], [], [], [], [], []
    cpu_fallback, stage_s = 0, {}
    distributed.barrier(context, device)
    busy = BusySampler(device)
    started = time.perf_counter()
    batches = iter(Prefetcher(loader, feeder))
    try:
        with torch.inference_mode(), busy:
            for _ in tqdm(range(len(loader)), desc="batches", unit="batch", disable=not progress,
                          leave=False, dynamic_ncols=True):
                wait_start = time.perf_counter()
                images, labels, worker_batch, times = next(batches)
                waits_s.append(time.perf_counter() - wait_start)
                prepare_times.append(times)
                cpu_fallback += worker_batch.cpu_fallback
                for stage, seconds in (worker_batch.stage_s or {}).items():
                    stage_s[stage] = stage_s.get(stage, 0.0) + seconds
                bad = worker_batch.bad
                if bad:
                    if not skip_bad_images:
                        raise undecodable(bad[0], "; remove or replace it, or skip bad images (they are then counted)")
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
    if sum(batch_images) + len(bad_images) != len(indices):    # every image scored or named, once
        raise RuntimeError(f"scored {sum(batch_images)} and skipped {len(bad_images)} images of {len(indices)}")
    distributed.barrier(context, device)
    window_s = time.perf_counter() - started
    per_batch_hits = torch.stack(hits).cpu().tolist() if hits else []
    return {"batch_times_ms": timer.times_ms(), "batch_images": batch_images,
            "batch_top1": [h[0] for h in per_batch_hits], "batch_top5": [h[1] for h in per_batch_hits],
            "data_wait_s": waits_s, "loader_wait_s": [t.loader_wait_s for t in prepare_times],
            "prefetch_threads": PREFETCH_THREADS,
            "prepare_s": [t.prepare_s for t in prepare_times], "startup_s": startup_s, "startup_wait_s": startup_wait_s,
            "startup_breakdown": startup_breakdown(loader_start.created_at, reports),
            "worker_stage_s": stage_s, "workers": workers, "batches": len(waits_s), "busy": busy.summary(),
            "wall_s": ended - started, "window_s": window_s,
            "bad_images": bad_images, "cpu_fallback_images": cpu_fallback, "logits": torch.cat(kept_logits).cpu() if kept_logits else None}


def startup_breakdown(created_at: float, reports: list) -> dict:
    """Where the loader's start-up went, from each worker's first-batch report (data.WorkerClock);
    on the gpu paths also each step of the workers' initialisation (gpu_decode.DecodeOnDevice.warm_up)."""
    if not reports:
        return {}
    breakdown = {"workers_reporting": len(reports),
                 "last_worker_started_s": max(r["worker_started_at"] for r in reports) - created_at,
                 "worker_init_s_max": max(r["worker_init_s"] for r in reports),
                 "first_fetch_s_max": max(r["first_fetch_s"] for r in reports),
                 "first_collate_s_max": max(r["first_collate_s"] for r in reports),
                 "last_first_batch_done_s": max(r["first_batch_done_at"] for r in reports) - created_at,
                 "first_batch_delivery_s_max": max(r["received_at"] - r["first_batch_done_at"] for r in reports)}
    for step in reports[0]["worker_init_steps"]:
        breakdown[f"worker_{step}_max"] = max(r["worker_init_steps"][step] for r in reports)
    return breakdown


def benchmark_synthetic(runner: Runner, batch_size: int, num_batches: int, warmup: int, seed: int,
                        context=None, progress: bool = True) -> dict:
    """Time `num_batches` forwards of one random batch kept on the device; sample the machine over
    them (device.BusySampler)."""
    device = runner.device
    context = context or distributed.DistContext()
    images = synthetic_batch(batch_size, device, seed=seed)
    runner.warm_up(images, warmup, progress=progress)
    runner.load(images)
    timer = RegionTimer(device)
    distributed.barrier(context, device)
    busy = BusySampler(device)
    started = time.perf_counter()
    with torch.inference_mode(), busy:
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
            "window_s": window_s, "bad_images": [], "busy": busy.summary()}


def run_cell(model, mode, device, batch_size: int, *, num_batches: int, warmup: int, seed: int, workers: int = 0,
             dataset=None, indices=None, feeder=None, skip_bad_images: bool = False, context=None,
             verify_input=None, progress: bool = True) -> dict:
    """Prepare the mode, warm up, measure; out-of-memory becomes an 'oom' status for the caller."""
    reset_peak_memory(device)
    try:
        runner = Runner(model, mode, device, verify_input=verify_input)
        runner.check_support(synthetic_batch(1, "cpu"))
        if dataset is None:
            raw = benchmark_synthetic(runner, batch_size, num_batches or 50, warmup, seed, context=context,
                                      progress=progress)
        else:
            raw = evaluate(runner, dataset, indices, batch_size, workers, warmup, feeder,
                           skip_bad_images=skip_bad_images, context=context, progress=progress)
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        runner = None
        empty_cache(device)
        return {"status": "oom", "error": str(error).splitlines()[0]}
    raw.update(status="ok", compile_time_s=runner.compile_time_s if mode.compiled else None,
               peak_memory_mib=peak_memory_mib(device), rewrite_check=runner.rewrite_check,
               compile_options=runner.compile_options, clock=clock_name(device))
    del runner
    empty_cache(device)
    return raw


def cell_metrics(raw: dict, measured_accuracy: bool) -> dict:
    """The original's keys (seconds, fractions) plus percentiles, both throughputs and accuracy.

    Formulas and units: metrics.py and docs/outputs.md.
    """
    times_ms = raw["batch_times_ms"]
    images = sum(raw["batch_images"])
    model_time_s = sum(times_ms) / 1e3
    stats = latency_stats(times_ms)
    top1 = metrics.accuracy(sum(raw["batch_top1"]), images) if measured_accuracy else None
    top5 = metrics.accuracy(sum(raw["batch_top5"]), images) if measured_accuracy else None
    wait_s = sum(raw["data_wait_s"])
    e2e_s = raw["wall_s"] if measured_accuracy else None
    model_rate = metrics.throughput(images, model_time_s)
    cell = {
        "total_images": images,
        "total_time": model_time_s,
        "images_per_second": model_rate,
        "avg_batch_time": stats["mean"] / 1e3,
        "std_batch_time": stats["std"] / 1e3,
        "min_batch_time": stats["min"] / 1e3,
        "max_batch_time": stats["max"] / 1e3,
        "avg_accuracy": top1,
        "top1_accuracy": top1,
        "top5_accuracy": top5,
        "model_images_per_second": model_rate,
        "end_to_end_images_per_second": metrics.throughput(images, e2e_s) if measured_accuracy else None,
        "end_to_end_time_s": e2e_s,
        "startup_time_s": raw["startup_s"] if measured_accuracy else None,
        "startup_wait_time_s": raw["startup_wait_s"] if measured_accuracy else None,
        "startup_breakdown": raw.get("startup_breakdown") if measured_accuracy else None,
        "data_wait_time_s": wait_s if measured_accuracy else None,
        "stall_fraction": metrics.share(wait_s, e2e_s) if measured_accuracy else None,
        # each prefetch thread waits on its own: their waits over their summed time
        "loader_wait_fraction": (metrics.share(sum(raw["loader_wait_s"]), e2e_s * raw["prefetch_threads"])
                                 if measured_accuracy else None),
        "prepare_time_s": sum(raw["prepare_s"]) if measured_accuracy else None,
        "compile_time_s": raw.get("compile_time_s"),
        "peak_memory_mib": raw.get("peak_memory_mib"),
        "skipped_bad_images": len(raw.get("bad_images", [])),
        "cpu_fallback_images": raw.get("cpu_fallback_images") if measured_accuracy else None,
        "worker_stage_ms_per_batch": (metrics.per_batch_ms(raw["worker_stage_s"], raw["batches"])
                                      if measured_accuracy else None),
        "loader_capacity_images_per_second": (metrics.loader_capacity(raw["workers"], images,
                                                                      sum(raw["worker_stage_s"].values()))
                                              if measured_accuracy and raw["workers"] else None),
        **raw["busy"],
        "images_per_gpu_joule": metrics.images_per_joule(images, raw["busy"]["gpu_energy_j"]),
    }
    cell.update({f"batch_time_ms_{key}": value for key, value in stats.items()})
    return cell


def reduce_across_ranks(raw: dict, cell: dict, context, device) -> dict:
    """Across torchrun ranks: exact image, hit, skipped and CPU-decoded counts; end-to-end and
    aggregate throughput over one wall-clock window (the slowest rank's); model-only throughput
    summed over ranks. The other figures stay rank 0's."""
    counts = distributed.all_sum([sum(raw["batch_images"]), sum(raw["batch_top1"]), sum(raw["batch_top5"]),
                                  len(raw["bad_images"]), raw.get("cpu_fallback_images") or 0], context, device)
    images, top1_hits, top5_hits, skipped, cpu_fallback = (int(count) for count in counts)
    window_s = max(distributed.all_gather_object(raw["window_s"], context))
    per_rank = distributed.all_gather_object(
        {key: cell[key] for key in ("total_images", "model_images_per_second",
                                    "end_to_end_images_per_second", "batch_time_ms_p50")}, context)
    reduced = {"world_size": context.world_size, "aggregate_images_per_second": metrics.throughput(images, window_s),
               "per_rank": per_rank}
    if context.active:
        model_rate = sum(r["model_images_per_second"] for r in per_rank)
        reduced.update(total_images=images, model_images_per_second=model_rate, images_per_second=model_rate,
                       skipped_bad_images=skipped)
        if cell["top1_accuracy"] is not None:
            top1 = metrics.accuracy(top1_hits, images)
            reduced.update(top1_accuracy=top1, top5_accuracy=metrics.accuracy(top5_hits, images), avg_accuracy=top1)
        if cell["end_to_end_images_per_second"] is not None:
            reduced.update(end_to_end_images_per_second=reduced["aggregate_images_per_second"],
                           end_to_end_time_s=window_s, cpu_fallback_images=cpu_fallback)
    return reduced


@dataclass
class BenchmarkOutcome:
    records: list            # record.benchmark_record, one per cell
    raws: list               # each cell's per-batch data, for the plots


def run_benchmark(*, model: str, weights: str, device, modes: list, batch_sizes: list, data: DataChoice,
                  num_batches: int = 50, images_to_score: int = 0, warmup: int = 10, workers=None, decode=None,
                  gpu_decode_share: float = 1.0, skip_bad_images: bool = False, seed: int = 0,
                  progress: bool = True, config: dict = None, context=None, say=print) -> BenchmarkOutcome:
    """Every mode at every batch size: model-only timing on synthetic input, or scoring (and end-to-end
    timing) of a seeded subset of `images_to_score` images (0: all) of an ImageNet-style folder; on
    synthetic input `num_batches` are timed. Records are complete on the main rank only."""
    context = context or distributed.DistContext()
    if not data.synthetic and device.type == "cuda" and decode not in ("pil", "cpu") and workers != 0:
        # a GPU decode path is likely: the workers' fork server imports for seconds while the model
        # loads and the decoder is chosen (idle, if no GPU decoder runs here after all); the
        # benchmark script starts it before its own imports, and then this finds it running
        start_worker_server()
    loaded = load_model(model, weights, seed, allow_random_fallback=data.synthetic)
    if loaded.notice:
        say(loaded.notice, file=sys.stderr)
    dataset = indices = feeder = None
    if data.synthetic:
        say(f"*** SYNTHETIC DATA: {data.reason}; timing random images, accuracy not measured ***")
        data.info = {"kind": "synthetic", "reason": data.reason}
    else:
        if not loaded.pretrained:
            say("NOTE: untrained weights: accuracy is that of an untrained model")
        decode = resolve_decode(decode, device)
        workers = default_workers(decode, context.local_world_size) if workers is None else workers
        resize = resize_form(device) if decode in GPU_DECODERS else None
        dataset = open_dataset(data.root, loaded.transforms, decode, gpu_share=gpu_decode_share)
        feeder = DeviceFeeder(device, Preprocess.from_transforms(loaded.transforms), normalized_crops=decode == "pil")
        chosen = choose_indices(len(dataset), images_to_score, seed)
        indices = distributed.shard(chosen, context)
        scope = ("all images" if len(chosen) == len(dataset) else
                 f"accuracy over a random subset of {len(chosen):,} of {len(dataset):,} images (seed {seed})")
        data.info = {"kind": "imagefolder", "root": str(data.root), "dataset_images": len(dataset),
                     "classes_present": len(dataset.classes), "scored_images": len(chosen),
                     "subset_seed": seed if len(chosen) < len(dataset) else None, "scored": scope,
                     "transforms": str(loaded.transforms), "decode": decode, "workers": workers,
                     "codec_library": CODEC_LIBRARY, "resize": resize}
        if dataset.skipped_links:
            say(f"NOTE: {len(dataset.skipped_links)} directory link(s) lead back into {data.root} and were not "
                f"followed (each image counts once), e.g. {dataset.skipped_links[0]}")
            data.info["skipped_directory_links"] = dataset.skipped_links
        say(f"Loaded {len(dataset):,} images in {len(dataset.classes)} classes from {data.root}; {scope}; "
            f"decoding: {decode}, {workers_text(workers)}{f', resize: {resize}' if resize else ''}")
        larger = [size for size in batch_sizes if size > len(indices)]
        if larger:
            say(f"NOTE: batch size {', '.join(f'{size:,}' for size in larger)} is more than the {len(indices):,} "
                f"images to score: each such pass is one batch of {len(indices):,}")
    say(f"Benchmarking {model} on {device} ({len(modes) * len(batch_sizes)} configuration(s))...")
    slow = low_precision_on_cpu(modes, device)
    if slow:
        say(f"NOTE: {slow} on the CPU runs through slow kernels on most CPUs (far slower than fp32); "
            f"warm-up and timing show progress")
    verify_input = (images_at(open_dataset(data.root, loaded.transforms), indices[:8])
                    if any(mode.rewrite for mode in modes) and dataset is not None else None)
    run = {**provenance(), "model": model, "device": str(device),
           "data": "synthetic" if data.synthetic else "imagenet", "data_info": data.info,
           "weights": {"requested": weights, "loaded": loaded.weights, "pretrained": loaded.pretrained},
           "config": config or {}, "environment": None}
    cells = []
    for mode, batch_size in itertools.product(modes, batch_sizes):
        raw = run_cell(loaded.model, mode, device, batch_size, num_batches=num_batches, warmup=warmup, seed=seed,
                       workers=workers, dataset=dataset, indices=indices, feeder=feeder,
                       skip_bad_images=skip_bad_images, context=context, verify_input=verify_input,
                       progress=progress or bool(slow))
        if raw["status"] != "ok":
            if len(modes) * len(batch_sizes) == 1:
                raise UserError(f"out of memory at batch size {batch_size} on {device}; lower the batch size "
                                f"(try {max(batch_size // 2, 1)})", exit_code=3)
            say(f"  {mode.label()} batch {batch_size}: out of memory, recorded and skipped")
            cells.append((mode, batch_size, raw, None))
            continue
        cell = cell_metrics(raw, measured_accuracy=not data.synthetic)
        cell.update(reduce_across_ranks(raw, cell, context, device))
        cells.append((mode, batch_size, raw, cell))
        if len(modes) * len(batch_sizes) > 1:
            say(f"  {mode.label():<40} batch {batch_size:>5}: {cell['model_images_per_second']:>12,.1f} img/s, "
                f"p50 {cell['batch_time_ms_p50']:.3f} ms")
    if dataset is not None and context.is_main:   # after the timed cells: how far the inputs are from the reference
        data.info["input_fidelity"] = decode_fidelity(data.root, loaded.transforms, decode, feeder, chosen, seed,
                                                      gpu_decode_share)
    run["environment"] = environment(device)
    records = [benchmark_record(run, mode, batch_size, raw["status"], cell, raw, raw.get("error"))
               for mode, batch_size, raw, cell in cells]
    add_accuracy_deltas(records)
    return BenchmarkOutcome(records, [raw for _, _, raw, _ in cells])


def low_precision_on_cpu(modes: list, device) -> str:
    """'bf16, fp16' (the low precisions among `modes`) when the device is a CPU, else ''."""
    if device.type != "cpu":
        return ""
    return ", ".join(sorted({mode.precision for mode in modes if mode.precision in ("fp16", "bf16")}))
