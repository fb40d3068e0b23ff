"""Execution modes: precision, memory format, torch.compile, CUDA graphs and exact rewrites.

A Runner owns the prepared model for one mode and separates the steps a benchmark must keep
apart: load() puts a batch where the forward reads it, run() is the forward alone (what gets
timed), warm_up() absorbs cuDNN autotuning, compilation and graph capture, and its compile
time is reported on its own, never inside the latency figures.
"""

import contextlib
import copy
import itertools
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .errors import UserError
from .device import hopper_or_later, synchronize
from .rewrites import rewrite_model, verify_rewrite

DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
EXECUTIONS = ("eager", "compile", "cuda-graphs", "compile+cuda-graphs")
# compile modes that capture CUDA graphs themselves; ours cannot be layered on top of them
SELF_GRAPHING_COMPILE_MODES = ("reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class Mode:
    precision: str = "fp32"
    channels_last: bool = False
    execution: str = "eager"
    compile_mode: str = "default"
    amp: bool = False         # autocast to the precision's dtype instead of casting the model
    rewrite: bool = False     # run layers in exactly equivalent, faster forms (rewrites.py)

    @property
    def compute_dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def model_dtype(self) -> torch.dtype:
        return torch.float32 if self.amp else self.compute_dtype

    @property
    def compiled(self) -> bool:
        return self.execution in ("compile", "compile+cuda-graphs")

    @property
    def graphed(self) -> bool:
        return self.execution in ("cuda-graphs", "compile+cuda-graphs")

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def label(self) -> str:
        parts = [self.precision + ("-amp" if self.amp else ""),
                 "channels_last" if self.channels_last else "contiguous",
                 self.execution.replace("compile", f"compile:{self.compile_mode}")]
        if self.rewrite:
            parts.append("rewrite")
        return " ".join(parts)

    def as_dict(self) -> dict:
        return {"precision": self.precision, "amp": self.amp, "memory_format":
                "channels_last" if self.channels_last else "contiguous", "execution": self.execution,
                "compile_mode": self.compile_mode if self.compiled else None,
                "rewrite": self.rewrite}


def apply_math_mode(precision: str) -> None:
    """fp32 means true float32 (TF32 off); tf32 turns TF32 on for matmul and cuDNN convolutions."""
    tf32 = precision == "tf32"
    torch.backends.cudnn.benchmark = True  # autotuned conv algorithms; warm-up absorbs the search
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def check_mode(mode: Mode, device: torch.device) -> None:
    """Refuse combinations the device cannot run, rather than falling back silently."""
    if mode.graphed and device.type != "cuda":
        raise UserError(f"CUDA graphs need a CUDA device (this run is on {device.type})")
    if mode.execution == "compile+cuda-graphs" and mode.compile_mode in SELF_GRAPHING_COMPILE_MODES:
        raise UserError(f"compile mode {mode.compile_mode} already captures CUDA graphs; with CUDA graphs use "
                        f"compile mode default or max-autotune-no-cudagraphs")
    if mode.precision == "tf32" and device.type != "cuda":
        raise UserError(f"precision tf32 exists only on CUDA GPUs (this run is on {device.type}); use fp32")
    if mode.amp and mode.precision in ("fp32", "tf32"):
        raise UserError("autocast (amp) needs precision fp16 or bf16")
    if mode.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(f"precision bf16: {torch.cuda.get_device_name(device)} does not support bfloat16")


def compile_options(compile_mode: str, device: torch.device) -> dict:
    """torch.compile's inductor options: the compile mode's own, and on Hopper and later inductor's
    kernels as programmatic dependent launches (each launched while the kernel before it finishes).

    On an H200 that took the graphed batch-1 fp16 forward's p50 from 0.080-0.084 to 0.077 ms,
    and left batch 4096 as it was (docs/speed-steps.md). Where this PyTorch lacks the option,
    the mode's own options are all.
    """
    import torch._inductor  # only compiled runs pay for importing inductor

    options = dict(torch._inductor.list_mode_options(compile_mode, dynamic=False))
    if hopper_or_later(device) and "triton.enable_pdl" in torch._inductor.config.get_config_copy():
        options["triton.enable_pdl"] = True
    return options


class Runner:
    """The model prepared for one mode on one device."""

    def __init__(self, model: torch.nn.Module, mode: Mode, device: torch.device, verify_input=None):
        check_mode(mode, device)
        apply_math_mode(mode.precision)
        self.mode, self.device = mode, device
        # a copy: casting in place would leave the caller's fp32 weights rounded for the next mode
        model = copy.deepcopy(model).to(device=device, dtype=mode.model_dtype, memory_format=mode.memory_format).eval()
        self.rewrite_check = None
        if mode.rewrite:
            fast = rewrite_model(model).to(memory_format=mode.memory_format)
            if verify_input is None:
                verify_input = torch.randn(2, 3, 224, 224)
            self.rewrite_check = verify_rewrite(model, fast, self._cast(verify_input), mode)
            model = fast
        # inference only: batches are loaded in inference mode, and a forward that needs no grad
        # never tries to save them for backward, whoever calls run() and under which grad mode
        self.eager_model = model.requires_grad_(False)
        self.model = model
        self.compile_options = None
        if mode.compiled:
            self.compile_options = compile_options(mode.compile_mode, device)
            torch._dynamo.reset()  # static shapes per batch size: no reuse of an earlier compile
            self.model = torch.compile(model, dynamic=False, options=self.compile_options)
        self.compile_time_s = 0.0
        self._graphs = {}          # batch size -> (graph, static input, static output)
        self._input = None

    def _cast(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(device=self.device, dtype=self.mode.model_dtype, non_blocking=True).contiguous(
            memory_format=self.mode.memory_format)

    def _autocast(self):
        if self.mode.amp:
            return torch.autocast(self.device.type, dtype=self.mode.compute_dtype)
        return contextlib.nullcontext()

    def _forward(self, images):
        with self._autocast():
            return self.model(images)

    def load(self, images: torch.Tensor) -> None:
        """Move a batch to the device in the mode's dtype and layout (not part of the timed forward)."""
        with torch.inference_mode():
            images = self._cast(images)
            if self.mode.graphed:
                self._ensure_graph(images)
                self._graphs[images.shape[0]][1].copy_(images)
        self._input = images

    def run(self) -> torch.Tensor:
        """The forward pass on the loaded batch: the region the benchmark times."""
        if self.mode.graphed:
            graph, _, output = self._graphs[self._input.shape[0]]
            graph.replay()
            return output
        return self._forward(self._input)

    def _ensure_graph(self, images: torch.Tensor) -> None:
        batch = images.shape[0]
        if batch in self._graphs:
            return
        static_input = images.clone()
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):  # warm-up off the capture, as the CUDA graphs docs require
            for _ in range(3):
                self._forward(static_input)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_output = self._forward(static_input)
        self._graphs[batch] = (graph, static_input, static_output)

    def check_support(self, images: torch.Tensor) -> None:
        """One small eager forward, so an unsupported dtype is one clear error, not a traceback later."""
        try:
            with torch.inference_mode(), self._autocast():
                self.eager_model(self._cast(images[:1]))
        except (RuntimeError, NotImplementedError) as error:
            if "not implemented" in str(error) or "not supported" in str(error).lower():
                raise UserError(f"{self.mode.precision} is not supported on {self.device.type} by this "
                                f"PyTorch build ({str(error).splitlines()[0]})")
            raise

    def warm_up(self, images: torch.Tensor, iterations: int, progress: bool = False) -> None:
        """Untimed forwards at this batch shape; the first one's time is the compile time."""
        with torch.inference_mode(), tqdm(total=max(iterations, 1), desc=f"warm-up (batch {images.shape[0]})",
                                          unit="forward", disable=not progress, leave=False) as bar:
            started = time.perf_counter()
            self.load(images)
            self.run()
            synchronize(self.device)
            bar.update()
            if self.mode.compiled:   # compilation (and capture) happen in this first call
                self.compile_time_s += time.perf_counter() - started
            for _ in range(max(iterations - 1, 0)):
                self.run()
                bar.update()
            synchronize(self.device)


def modes_for(*, precisions: list, channels_last: bool, compile_mode, cuda_graphs: bool, amp: bool, rewrite: bool,
              sweep: bool, executions, device: torch.device) -> list:
    """The Modes a run measures: one, or with `sweep` the grid precisions x memory formats x executions.

    A sweep's executions default to all on CUDA (compile+cuda-graphs only with a compile mode that
    does not capture graphs itself) and eager elsewhere; channels_last alone when asked for, else both.
    """
    if not sweep:
        execution = {(False, False): "eager", (True, False): "compile", (False, True): "cuda-graphs",
                     (True, True): "compile+cuda-graphs"}[(bool(compile_mode), cuda_graphs)]
        return [Mode(precisions[0], channels_last, execution, compile_mode or "default", amp, rewrite)]
    executions = executions or (
        [e for e in EXECUTIONS if e != "compile+cuda-graphs" or compile_mode not in SELF_GRAPHING_COMPILE_MODES]
        if device.type == "cuda" else ["eager"])
    formats = [True] if channels_last else [False, True]
    return [Mode(precision, layout, execution, compile_mode or "default", amp, rewrite)
            for precision, layout, execution in itertools.product(precisions, formats, executions)]
