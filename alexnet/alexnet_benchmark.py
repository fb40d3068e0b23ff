#!/usr/bin/env python3
"""Inference throughput, latency and ImageNet accuracy of AlexNet (or any torchvision classifier).

Writes results/<model>/<model>_<data>_<timestamp>.json and a PNG beside it; --batch-sizes and
--sweep write a sweep JSON, CSV and PNG. Runs under torchrun for several GPUs or machines.
"""

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install


from cnnbench import distributed  # noqa: E402
from cnnbench.benchmark import cell_metrics, run_cell  # noqa: E402
from cnnbench.benchmark_report import plot_run, plot_sweep, summary_text, sweep_csv, sweep_table  # noqa: E402
from cnnbench.cli import (UserError, add_model_arguments, choice_list, entry_point, int_list,  # noqa: E402
                          non_negative_int, output_dir, single_precision)
from cnnbench.data import (DECODERS, GPU_SHARE, choose_data, choose_indices, default_workers, images_at,  # noqa: E402
                           open_dataset)
from cnnbench.batches import DeviceFeeder  # noqa: E402
from cnnbench.fidelity import decode_fidelity  # noqa: E402
from cnnbench.gpu_decode import resolve_decode  # noqa: E402
from cnnbench.preprocess import CODEC_LIBRARY, Preprocess  # noqa: E402
from cnnbench.device import environment  # noqa: E402
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import EXECUTIONS, SELF_GRAPHING_COMPILE_MODES, Mode, check_mode  # noqa: E402
from cnnbench.results import config_of, reserve_stem, save_figure, timestamp, write_json, write_text  # noqa: E402

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
EPILOG = """examples:
  python alexnet/alexnet_benchmark.py                              # ImageNet val if present, else synthetic
  python alexnet/alexnet_benchmark.py --data-path ./data/imagenet --num-batches 0   # the full val set
  python alexnet/alexnet_benchmark.py --synthetic --batch-size 256 --precision bf16 --channels-last
  python alexnet/alexnet_benchmark.py --sweep --precision fp32,bf16 --batch-sizes 1,32,256
  torchrun --nproc_per_node 2 alexnet/alexnet_benchmark.py --synthetic --batch-size 256
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    run = parser.add_argument_group("benchmark")
    run.add_argument("--num-batches", type=non_negative_int, default=50,
                     help="batches to score: a seeded random subset of the val set; 0 = all; with "
                          "synthetic input, batches to time (0 means 50) (default: 50)")
    run.add_argument("--warmup", type=non_negative_int, default=10,
                     help="untimed forwards per batch shape before timing (default: 10)")
    run.add_argument("--batch-sizes", type=int_list, default=None,
                     help="comma-separated batch sizes to run in one process, e.g. 1,8,32,256")
    run.add_argument("--amp", action="store_true", help="autocast to --precision instead of casting the model")
    run.add_argument("--compile", nargs="?", const="default", default=None, choices=COMPILE_MODES,
                     metavar="MODE", help=f"torch.compile the model (MODE: {', '.join(COMPILE_MODES)}; default: default)")
    run.add_argument("--cuda-graphs", action="store_true",
                     help="capture the forward as a CUDA graph and replay it (with --compile: the compiled forward)")
    run.add_argument("--rewrite", action="store_true",
                     help="run layers in exactly equivalent, faster forms: strided few-channel convolutions "
                          "as space-to-depth + stride-1 conv, bias and ReLU after max-pooling (checked "
                          "against the reference model at run time)")
    run.add_argument("--sweep", action="store_true",
                     help="run the grid precisions x memory formats x executions x batch sizes "
                          "(synthetic input unless --data-path is given)")
    run.add_argument("--executions", type=choice_list(EXECUTIONS), default=None,
                     help=f"executions in a sweep, from {','.join(EXECUTIONS)} (default: all on CUDA, "
                          f"compile+cuda-graphs only with a compile mode that does not capture graphs itself; "
                          f"eager elsewhere)")
    run.add_argument("--decode", choices=DECODERS, default=None,
                     help="JPEG decoding: pil (the original pipeline), cpu (libjpeg-turbo in the workers), "
                          "gpu (in each worker on the GPU: nvimgcodec where installed, else nvjpeg), or one "
                          "of nvimgcodec, nvjpeg by name (default: gpu where available, else cpu)")
    run.add_argument("--gpu-decode-share", type=float, default=GPU_SHARE,
                     help=f"with a gpu decoder, the share of images it decodes; the workers decode the "
                          f"rest with libjpeg-turbo (default: {GPU_SHARE})")
    run.add_argument("--skip-bad-images", action="store_true",
                     help="skip undecodable images (counted in the JSON) instead of stopping")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def modes_to_run(args, device) -> list:
    if not args.sweep:
        execution = {(False, False): "eager", (True, False): "compile", (False, True): "cuda-graphs",
                     (True, True): "compile+cuda-graphs"}[(bool(args.compile), args.cuda_graphs)]
        return [Mode(single_precision(args), args.channels_last, execution, args.compile or "default",
                     args.amp, args.rewrite)]
    executions = args.executions or (
        [e for e in EXECUTIONS if e != "compile+cuda-graphs" or args.compile not in SELF_GRAPHING_COMPILE_MODES]
        if device.type == "cuda" else ["eager"])
    formats = [True] if args.channels_last else [False, True]
    return [Mode(precision, channels_last, execution, args.compile or "default", args.amp, args.rewrite)
            for precision, channels_last, execution in itertools.product(args.precision, formats, executions)]


def _reduce(raw: dict, metrics: dict, context, device) -> dict:
    """Across ranks: exact image and hit counts, aggregate throughput over one wall-clock window."""
    totals = distributed.all_sum([sum(raw["batch_images"]), sum(raw["batch_top1"]), sum(raw["batch_top5"])],
                                 context, device)
    windows = distributed.all_gather_object(raw["window_s"], context)
    per_rank = distributed.all_gather_object(
        {key: metrics[key] for key in ("total_images", "model_images_per_second",
                                       "end_to_end_images_per_second", "batch_time_ms_p50")}, context)
    images = int(totals[0])
    reduced = {"world_size": context.world_size, "aggregate_images_per_second": images / max(windows),
               "per_rank": per_rank}
    if context.active:
        model_rate = sum(r["model_images_per_second"] for r in per_rank)
        reduced.update(total_images=images, model_images_per_second=model_rate, images_per_second=model_rate)
        if metrics["top1_accuracy"] is not None:
            reduced.update(top1_accuracy=totals[1] / images, top5_accuracy=totals[2] / images,
                           avg_accuracy=totals[1] / images)
    return reduced


@entry_point
def main(args) -> int:
    context, device = distributed.init_from_env(args.device)
    try:
        return _run(args, context, device)
    finally:
        distributed.shutdown(context)


def _run(args, context, device) -> int:
    say = print if context.is_main else (lambda *a, **k: None)
    modes = modes_to_run(args, device)
    for mode in modes:
        check_mode(mode, device)
    batch_sizes = args.batch_sizes or [args.batch_size]
    data = choose_data(args.data_path, args.synthetic or (args.sweep and args.data_path is None))
    loaded = load_model(args.model, args.weights, args.seed, allow_random_fallback=data.synthetic)
    if loaded.notice:
        say(loaded.notice, file=sys.stderr)

    dataset = indices = feeder = None
    if data.synthetic:
        say(f"*** SYNTHETIC DATA: {data.reason}; timing random images, accuracy not measured ***")
        data.info = {"kind": "synthetic", "reason": data.reason}
    else:
        if not loaded.pretrained:
            say("NOTE: --weights none: accuracy is that of an untrained model")
        decode = resolve_decode(args.decode, device)
        if args.workers is None:
            args.workers = default_workers(decode)
        if not 0 <= args.gpu_decode_share <= 1:
            raise UserError("--gpu-decode-share is a fraction between 0 and 1")
        dataset = open_dataset(data.root, loaded.transforms, decode, args.gpu_decode_share)
        feeder = DeviceFeeder(device, Preprocess.from_transforms(loaded.transforms), normalized_crops=decode == "pil")
        chosen = choose_indices(len(dataset), args.num_batches * args.batch_size, args.seed)
        indices = distributed.shard(chosen, context)
        scope = ("all images" if len(chosen) == len(dataset) else
                 f"accuracy over a random subset of {len(chosen):,} of {len(dataset):,} images (seed {args.seed})")
        data.info = {"kind": "imagefolder", "root": str(data.root), "dataset_images": len(dataset),
                     "classes_present": len(dataset.classes), "scored_images": len(chosen),
                     "subset_seed": args.seed if len(chosen) < len(dataset) else None, "scored": scope,
                     "transforms": str(loaded.transforms), "decode": decode, "workers": args.workers,
                     "codec_library": CODEC_LIBRARY}
        say(f"Loaded {len(dataset):,} images in {len(dataset.classes)} classes from {data.root}; {scope}; "
            f"decoding: {decode}, {args.workers} workers")

    say(f"Benchmarking {args.model} on {device} ({len(modes) * len(batch_sizes)} configuration(s))...")
    verify_input = (images_at(open_dataset(data.root, loaded.transforms), indices[:8])
                    if args.rewrite and dataset is not None else None)
    common = {"model": args.model, "device": str(device), "data": "synthetic" if data.synthetic else "imagenet",
              "data_info": data.info, "weights": {"requested": args.weights, "loaded": loaded.weights,
                                                  "pretrained": loaded.pretrained}}
    cells = []
    for mode, batch_size in itertools.product(modes, batch_sizes):
        raw = run_cell(loaded.model, mode, device, batch_size, args, dataset, indices, context, verify_input, feeder)
        if raw["status"] != "ok":
            if len(modes) * len(batch_sizes) == 1:
                raise UserError(f"out of memory at batch size {batch_size} on {device}; lower --batch-size "
                                f"(try {max(batch_size // 2, 1)})", exit_code=3)
            say(f"  {mode.label()} batch {batch_size}: out of memory, recorded and skipped")
            cells.append({"mode": mode, "batch_size": batch_size, "status": raw["status"], "raw": raw})
            continue
        metrics = cell_metrics(raw, measured_accuracy=not data.synthetic)
        metrics.update(_reduce(raw, metrics, context, device))
        cells.append({"mode": mode, "batch_size": batch_size, "status": "ok", "raw": raw, "metrics": metrics})
        if len(modes) * len(batch_sizes) > 1:
            say(f"  {mode.label():<40} batch {batch_size:>5}: {metrics['model_images_per_second']:>12,.1f} img/s, "
                f"p50 {metrics['batch_time_ms_p50']:.3f} ms")
    if not context.is_main:
        return 0
    if dataset is not None:   # after the timed cells: how far this run's inputs are from the reference
        data.info["input_fidelity"] = decode_fidelity(data.root, loaded.transforms, decode, feeder, chosen, args.seed,
                                                      args.gpu_decode_share)

    env = environment(device)
    out = output_dir(args)
    if len(cells) == 1:
        cell = cells[0]
        result = {**common, **cell["metrics"], "batch_size": cell["batch_size"], "mode": cell["mode"].as_dict(),
                  "mode_label": cell["mode"].label(), "rewrite_check": cell["raw"]["rewrite_check"],
                  "timing_clock": cell["raw"]["clock"], "config": config_of(args), "environment": env,
                  "batch_times_ms": cell["raw"]["batch_times_ms"]}
        print(summary_text(result))
        raw = cell["raw"]
        accuracy = ([t / n for t, n in zip(raw["batch_top1"], raw["batch_images"])] if not data.synthetic else None)
        stem = reserve_stem(out, f"{args.model}_{common['data']}_{timestamp()}", (".json", ".png"))
        png = save_figure(stem.with_suffix(".png"), plot_run(result, raw["batch_times_ms"], accuracy))
        path = write_json(stem.with_suffix(".json"), result)
    else:
        rows = _sweep_rows(cells)
        print(sweep_table(rows))
        stem = reserve_stem(out, f"{args.model}_sweep_{timestamp()}", (".json", ".csv", ".png"))
        payload = {**common, "config": config_of(args), "environment": env, "cells": rows}
        path = write_json(stem.with_suffix(".json"), payload)
        write_text(stem.with_suffix(".csv"), sweep_csv(rows))
        png = save_figure(stem.with_suffix(".png"), plot_sweep(
            rows, f"{args.model} on {env.get('gpu', env['cpu'])}, {common['data']} input"))
        print(f"CSV saved to {stem.with_suffix('.csv')}")
    print(f"Plot saved to {png}")
    print(f"Benchmark results saved to {path}")
    return 0


def _sweep_rows(cells) -> list:
    rows = []
    for cell in cells:
        row = {**cell["mode"].as_dict(), "batch_size": cell["batch_size"], "status": cell["status"]}
        if cell["status"] == "ok":
            row.update(cell["metrics"], rewrite_check=cell["raw"]["rewrite_check"])
        else:
            row["error"] = cell["raw"].get("error")
        rows.append(row)
    baseline = next((r for r in rows if r["status"] == "ok" and r["precision"] == "fp32"
                     and r.get("top1_accuracy") is not None), None)
    for row in rows:
        if baseline and row.get("top1_accuracy") is not None:
            row["top1_delta_vs_fp32"] = row["top1_accuracy"] - baseline["top1_accuracy"]
            row["top5_delta_vs_fp32"] = row["top5_accuracy"] - baseline["top5_accuracy"]
    return rows


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
