"""One result record: the shape of every benchmark result, a single run and a sweep row alike.

A record is flat and self-describing: which code made it (schema, commit, dirty tree, command
line), what ran (model, device, data, weights, mode, batch size), the metrics (metrics.py; keys and
units in docs/outputs.md), the per-batch times, every flag and the environment.
"""

import shlex
import subprocess
import sys

from .errors import REPO_ROOT

SCHEMA_VERSION = 2


def _git(*arguments) -> str:
    try:
        done = subprocess.run(["git", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance() -> dict:
    """schema_version, git_commit (None outside a checkout), git_dirty (uncommitted changes to
    tracked files) and the command line, as given."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"schema_version": SCHEMA_VERSION, "git_commit": commit,
            "git_dirty": bool(status) if status is not None else None,
            "command": " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv])}


def benchmark_record(run: dict, mode, batch_size: int, status: str, metrics: dict = None, raw: dict = None,
                     error: str = None) -> dict:
    """The record of one cell (one mode at one batch size). `run` holds what every cell shares:
    provenance, model, device, data, data_info, weights, config, environment."""
    raw = raw or {}
    record = {**{key: run[key] for key in ("schema_version", "git_commit", "git_dirty", "command", "model",
                                            "device", "data", "data_info", "weights")},
              **mode.as_dict(), "mode_label": mode.label(), "batch_size": batch_size, "status": status,
              "error": error, **(metrics or {}),
              "compile_options": raw.get("compile_options"), "rewrite_check": raw.get("rewrite_check"),
              "timing_clock": raw.get("clock"),
              "batch_times_ms": raw.get("batch_times_ms", []),
              "config": run["config"], "environment": run["environment"]}
    return record


def add_accuracy_deltas(records: list) -> None:
    """top1/top5 difference of each record from the first fp32 record with accuracy (a sweep's baseline)."""
    baseline = next((r for r in records if r["status"] == "ok" and r["precision"] == "fp32"
                     and r.get("top1_accuracy") is not None), None)
    for record in records:
        measured = baseline is not None and record.get("top1_accuracy") is not None
        record["top1_delta_vs_fp32"] = record["top1_accuracy"] - baseline["top1_accuracy"] if measured else None
        record["top5_delta_vs_fp32"] = record["top5_accuracy"] - baseline["top5_accuracy"] if measured else None
