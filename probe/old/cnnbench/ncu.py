"""Nsight Compute (ncu) underneath `alexnet_ai.py --counters`: run it, read its CSV, attribute kernels.

ncu profiles a child process (ncu_target) whose measured forwards run inside the CUDA profiler's
capture range, each batch size in an NVTX range "batch:N" and each leaf layer in "layer:<name>".
Every kernel row of ncu's raw CSV carries its NVTX push/pop stack, so a kernel belongs to the
innermost layer range around its launch: cuDNN's layout conversions (nchwToNhwc, nhwcToNchw)
count for the convolution that made them.
"""

import csv
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .profiling import LAYER_PREFIX

DEFAULT_NCU = "/usr/local/cuda/bin/ncu"
CACHE_CONTROL = {"cold": "all", "warm": "none"}   # ours -> ncu's --cache-control: flush every cache, or none
TIME, DRAM_READ, DRAM_WRITE, L2 = ("gpu__time_duration.sum", "dram__bytes_read.sum", "dram__bytes_write.sum",
                                   "lts__t_bytes.sum")
REQUIRED_METRICS = (TIME, DRAM_READ, DRAM_WRITE, L2)
# FLOP per counted unit. Tensor-core "ops" are FLOP (2 per multiply-add, including a tile's
# padding); FMA thread instructions count 2, adds and multiplies 1 (a packed half2 instruction once).
FLOP_METRICS = {"sm__ops_path_tensor_src_bf16_dst_fp32.sum": 1, "sm__ops_path_tensor_src_fp16.sum": 1,
                "sm__ops_path_tensor_src_tf32_dst_fp32.sum": 1, "sm__ops_path_tensor_src_fp64.sum": 1,
                "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum": 2,
                "smsp__sass_thread_inst_executed_op_fadd_pred_on.sum": 1,
                "smsp__sass_thread_inst_executed_op_fmul_pred_on.sum": 1,
                "smsp__sass_thread_inst_executed_op_hfma_pred_on.sum": 2,
                "smsp__sass_thread_inst_executed_op_hadd_pred_on.sum": 1,
                "smsp__sass_thread_inst_executed_op_hmul_pred_on.sum": 1,
                "smsp__sass_thread_inst_executed_op_dfma_pred_on.sum": 2,
                "smsp__sass_thread_inst_executed_op_dadd_pred_on.sum": 1,
                "smsp__sass_thread_inst_executed_op_dmul_pred_on.sum": 1}
LAYOUT_CONVERSIONS = ("nchwToNhwc", "nhwcToNchw")
NVTX_STACK_COLUMN = "thread Domain:Push/Pop_Range"
BATCH_RANGE = "batch:"     # ncu_target's NVTX range around each batch size's forward; layers: LAYER_PREFIX
# what ncu prints when it runs but may not read the counters
COUNTER_FAILURES = {"ERR_NVGPUCTRPERM": "this user may not read the GPU's performance counters (ERR_NVGPUCTRPERM; "
                                        "see NVIDIA's note on that error, or run as root)",
                    "LibraryNotLoaded": "its profiling library does not load here (LibraryNotLoaded; some "
                                        "virtualised GPUs expose no counters)"}


class CountersUnavailable(UserError):
    """ncu is missing or cannot measure here; the analytic report (without --counters) still works."""

    def __init__(self, reason: str):
        super().__init__(f"hardware counters unavailable: {reason}; alexnet_ai.py without --counters "
                         f"still gives the analytic roofline", exit_code=2)


def find_ncu(path=None) -> str:
    """The ncu executable: `path`, else ncu on PATH, else the CUDA toolkit's."""
    candidates = [str(path)] if path else [shutil.which("ncu") or "", DEFAULT_NCU]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise CountersUnavailable(f"Nsight Compute not found ({path or 'ncu on PATH, ' + DEFAULT_NCU}); it comes "
                              f"with the CUDA toolkit")


def failure_reason(output: str) -> str:
    """One line saying why an ncu run failed, from its output."""
    for marker, reason in COUNTER_FAILURES.items():
        if marker in output:
            return f"ncu: {reason}"
    errors = [line for line in output.splitlines() if "ERROR" in line or "Error" in line]
    lines = errors or [line for line in output.splitlines() if line.strip()]
    return f"ncu failed: {lines[-1].strip() if lines else 'no output'}"


def _run(command: list, timeout_s: float, env: dict = None) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except OSError as error:
        raise CountersUnavailable(f"cannot run {command[0]} ({error})")
    except subprocess.TimeoutExpired:
        raise CountersUnavailable(f"{' '.join(command[:3])} ... took over {timeout_s:.0f} s")
    output = result.stdout + result.stderr
    if result.returncode != 0 or any(marker in output for marker in COUNTER_FAILURES):
        raise CountersUnavailable(failure_reason(output))
    return result.stdout


def ncu_version(ncu: str) -> str:
    lines = [line for line in _run([ncu, "--version"], 60).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown"


def available_metrics(ncu: str) -> set:
    """Metric names (with .sum) this GPU's ncu offers among the ones we read."""
    names = {line.split()[0] for line in _run([ncu, "--query-metrics"], 120).splitlines() if line.strip()}
    wanted = REQUIRED_METRICS + tuple(FLOP_METRICS)
    return {metric for metric in wanted if metric.rsplit(".", 1)[0] in names}


def profile_command(ncu: str, report: Path, metrics: list, cache: str, target: list) -> list:
    """ncu over `target` (a command), only inside its capture range, clocks as the GPU runs them;
    the report goes to `report` (ncu adds .ncu-rep)."""
    return [ncu, "--profile-from-start", "off", "--nvtx", "--clock-control", "none",
            "--cache-control", CACHE_CONTROL[cache], "--metrics", ",".join(metrics), "--force-overwrite",
            "--export", str(report), *target]


def profile(ncu: str, report: Path, metrics: list, cache: str, target: list, env: dict = None,
            timeout_s: float = 1800) -> tuple:
    """Run the target under ncu: (the report file, the raw page of it as CSV in base units)."""
    _run(profile_command(ncu, report, metrics, cache, target), timeout_s, env)
    written = report.with_name(report.name + ".ncu-rep")
    return written, _run([ncu, "--import", str(written), "--csv", "--page", "raw", "--print-units", "base"], 600)


@dataclass
class KernelCounters:
    """One kernel launch as ncu measured it."""
    name: str
    batch_size: int            # from the enclosing "batch:N" range; None outside every batch range
    layer: str                 # the innermost "layer:<name>" range; None outside every layer
    time_ns: float
    dram_read_bytes: float
    dram_write_bytes: float
    l2_bytes: float
    flop_counted: float = None          # None when no FLOP counter was read

    @property
    def layout_conversion(self) -> bool:
        return any(marker in self.name for marker in LAYOUT_CONVERSIONS)

    def as_dict(self) -> dict:
        return {"name": self.name, "time_ns": self.time_ns, "dram_read_bytes": self.dram_read_bytes,
                "dram_write_bytes": self.dram_write_bytes, "l2_bytes": self.l2_bytes,
                "flop_counted": self.flop_counted, "layout_conversion": self.layout_conversion}


def nvtx_ranges(stack: str) -> list:
    """Range names of ncu's push/pop stack cell, outermost first.

    A cell reads: PID  "<domain>:NAME:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg"  "..." ; a NAME
    may hold colons (batch:64), the six fields after it never do.
    """
    return [entry.rsplit(":", 6)[0] for entry in re.findall(r'"<[^>]*>:([^"]*)"', stack)]


def _number(text: str) -> float:
    return float(text.replace(",", "")) if text.strip() else 0.0


def parse_raw_csv(text: str) -> list:
    """KernelCounters for every kernel row of `ncu --import R --csv --page raw --print-units base`."""
    rows = list(csv.reader(io.StringIO(text[text.find('"ID"'):])))
    if not rows:
        raise ValueError("no CSV header in ncu's output")
    header = rows[0]
    column = {name: index for index, name in enumerate(header)}
    missing = [metric for metric in REQUIRED_METRICS if metric not in column]
    stack_columns = [index for index, name in enumerate(header) if name.startswith(NVTX_STACK_COLUMN)]
    if missing or not stack_columns:
        raise ValueError(f"ncu's CSV lacks {', '.join(missing) or 'the NVTX push/pop column (was --nvtx given?)'}")
    flop_columns = {metric: column[metric] for metric in FLOP_METRICS if metric in column}
    kernels = []
    for row in rows[1:]:
        if not row or not row[0].strip().isdigit():      # the units row, blank lines
            continue
        ranges = nvtx_ranges(row[stack_columns[0]])
        batches = [int(name[len(BATCH_RANGE):]) for name in ranges if name.startswith(BATCH_RANGE)]
        layers = [name[len(LAYER_PREFIX):] for name in ranges if name.startswith(LAYER_PREFIX)]
        counters = {metric: _number(row[index]) for metric, index in flop_columns.items()}
        kernels.append(KernelCounters(
            name=row[column["Kernel Name"]], batch_size=batches[-1] if batches else None,
            layer=layers[-1] if layers else None, time_ns=_number(row[column[TIME]]),
            dram_read_bytes=_number(row[column[DRAM_READ]]), dram_write_bytes=_number(row[column[DRAM_WRITE]]),
            l2_bytes=_number(row[column[L2]]),
            flop_counted=sum(FLOP_METRICS[m] * v for m, v in counters.items()) if counters else None))
    return kernels
