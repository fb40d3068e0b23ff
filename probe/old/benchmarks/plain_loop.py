#!/usr/bin/env python3
"""The anchor: the plainest CUDA-event timing loop of a torchvision model, to check the benchmark.

One event pair around N back-to-back forwards of one batch already on the device, after warm-up
(with --cuda-graphs, N replays of one captured forward). The benchmark's model-only throughput for
the same model, batch and dtype should agree with it.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.modes import compile_options  # noqa: E402
from cnnbench.rewrites import rewrite_model  # noqa: E402

DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def add_model_arguments(parser: argparse.ArgumentParser, batch_size: int) -> None:
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--precision", choices=DTYPES, default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", default=None, help="torch.compile mode")
    parser.add_argument("--rewrite", action="store_true")


def build(args) -> tuple:
    """(forward, input on the GPU): the torchvision model as the flags ask, nothing else."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.benchmark = True
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    dtype = DTYPES[args.precision]
    model = torchvision.models.get_model(args.model).eval().to("cuda", dtype, memory_format=fmt)
    if args.rewrite:
        model = rewrite_model(model).to(memory_format=fmt)
    forward = model
    if args.compile:  # with the benchmark's options (its mode's, dependent launch on Hopper): only the timing differs
        forward = torch.compile(model, dynamic=False, options=compile_options(args.compile, torch.device("cuda")))
    x = torch.randn(args.batch_size, 3, 224, 224, device="cuda", dtype=dtype).contiguous(memory_format=fmt)
    return forward, x


def graphed(forward, example):
    """A CUDA graph of forward(example), replayed by the returned callable."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            forward(example)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        forward(example)
    return graph.replay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_arguments(parser, batch_size=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cuda-graphs", action="store_true")
    args = parser.parse_args()
    model, x = build(args)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.inference_mode():
        run = graphed(model, x) if args.cuda_graphs else (lambda: model(x))
        for _ in range(args.warmup):
            run()
        torch.cuda.synchronize()
        start.record()
        for _ in range(args.iterations):
            run()
        end.record()
        torch.cuda.synchronize()
    ms = start.elapsed_time(end) / args.iterations
    print(json.dumps({"anchor": "plain CUDA-event loop", **vars(args), "ms_per_batch": ms,
                      "images_per_second": args.batch_size / ms * 1e3}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
