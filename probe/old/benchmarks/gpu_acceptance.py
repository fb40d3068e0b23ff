#!/usr/bin/env python3
"""Run every command the README shows, and each script's defaults, on this machine's GPU; then `pytest -m cuda`.

Each command runs as written (python -> this interpreter), from a scratch copy of the checkout so
its results land there, with a generated varied JPEG set as data/imagenet and, since pretrained
weights cannot be downloaded offline, a random-weight stand-in file in a private TORCH_HOME
(accuracy figures of this run mean nothing; timings and files do). A command passes when it exits
0 and every file it says it wrote exists and reads back (JSON parses, PNG opens, text non-empty).
torchrun commands need two GPUs and are skipped, with a note, on one.
Usage: python benchmarks/gpu_acceptance.py OUT_DIR [--images 2000] [--skip-pytest]
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("alexnet/alexnet_benchmark.py", "alexnet/alexnet_profiler.py", "alexnet/alexnet_ai.py")
CLAIM = re.compile(r"[\w./-]*/[\w.-]+\.(?:json|png|txt|csv)\b")     # a path to a result the command names


def readme_commands(readme: Path) -> list:
    """Lines of the README's shell blocks that run one of the scripts, comments and set-up stripped."""
    commands, in_block = [], False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            in_block = line.strip() in ("```bash", "```sh", "```shell")
            continue
        if not in_block:
            continue
        words = line.split(" #")[0].split("&&")[-1].split()
        if words and words[0].endswith(("python", "python3")):
            words[0] = "python"       # .venv/bin/python and python are the same command here
        command = " ".join(words)
        if any(script in command for script in SCRIPTS):
            commands.append(command)
    return commands


def runnable(command: str) -> list:
    words = shlex.split(command)
    if words[0].endswith("python") or words[0].endswith("python3"):
        words[0] = sys.executable
    return words


def claimed_files(output: str, cwd: Path) -> list:
    paths = (Path(match.group(0)) for match in CLAIM.finditer(output))
    return sorted({path if path.is_absolute() else cwd / path for path in paths})


def check_file(path: Path) -> str:
    """'' when the file reads back as its kind, else what is wrong."""
    if not path.is_file():
        return f"{path}: missing"
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".png":
            from PIL import Image
            with Image.open(path) as image:
                image.verify()
        elif path.stat().st_size == 0:
            return f"{path}: empty"
    except Exception as error:    # anything unreadable is a failure to report, not to raise
        return f"{path}: {type(error).__name__}: {error}"
    return ""


def stand_in_weights(torch_home: Path) -> None:
    """A random AlexNet state dict where torchvision looks for the pretrained file (offline machines)."""
    import torch
    from torchvision.models import AlexNet_Weights, alexnet

    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(alexnet().state_dict(), checkpoints / Path(AlexNet_Weights.IMAGENET1K_V1.url).name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=2000, help="varied JPEGs generated as data/imagenet/val")
    parser.add_argument("--skip-pytest", action="store_true")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per command")
    args = parser.parse_args()
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "checkout"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".git", ".venv", "data", "results", ".whl", ".gl"))
    subprocess.run([sys.executable, str(work / "benchmarks" / "make_jpegs.py"), str(work / "data" / "imagenet" / "val"),
                    "--count", str(args.images), "--classes", "100", "--varied"], check=True)
    env = dict(os.environ, TORCH_HOME=str(args.out / "torch_home"), PYTHONUNBUFFERED="1")
    stand_in_weights(Path(env["TORCH_HOME"]))
    commands = list(dict.fromkeys([f"python {script}" for script in SCRIPTS] + readme_commands(REPO / "README.md")))
    gpus = torch.cuda.device_count()
    rows = []
    with open(args.out / "acceptance_log.txt", "w") as log:
        log.write(f"GPU: {torch.cuda.get_device_name(0) if gpus else 'none'} x{gpus}; torch {torch.__version__}\n")
        for command in commands:
            if command.startswith("torchrun") and gpus < 2:
                rows.append((command, "skipped", "needs 2 GPUs", 0.0))
                continue
            started = time.perf_counter()
            try:
                done = subprocess.run(runnable(command), cwd=work, env=env, capture_output=True, text=True,
                                      timeout=args.timeout)
                output, code = done.stdout + done.stderr, done.returncode
            except subprocess.TimeoutExpired as error:
                output, code = f"{error.stdout or ''}{error.stderr or ''}\ntimed out", "timeout"
            seconds = time.perf_counter() - started
            problems = [p for p in map(check_file, claimed_files(output, work)) if p]
            if code == 0 and not claimed_files(output, work):
                problems.append("names no file it wrote")
            status = "pass" if code == 0 and not problems else "FAIL"
            rows.append((command, status, f"exit {code}" + ("; " + "; ".join(problems) if problems else ""), seconds))
            log.write(f"\n### {command}\n### {status}, exit {code}, {seconds:.1f} s\n{output}\n")
            log.flush()
        if not args.skip_pytest:
            done = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider"],
                                  cwd=REPO, env=env, capture_output=True, text=True)
            log.write(f"\n### pytest -m cuda\n{done.stdout}{done.stderr}\n")
            rows.append(("pytest -m cuda", "pass" if done.returncode == 0 else "FAIL",
                         (done.stdout.strip().splitlines() or ["no output"])[-1], 0.0))
        table = "\n".join(f"{status:<8} {seconds:6.1f} s  {command}  ({detail})" for command, status, detail, seconds in rows)
        log.write("\n" + table + "\n")
    print(table)
    failed = sum(status == "FAIL" for _, status, _, _ in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
