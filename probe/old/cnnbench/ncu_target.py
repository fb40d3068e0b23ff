"""The process Nsight Compute profiles for `alexnet_ai.py --counters` (counters_run.py launches it).

For each batch size: the model warms up outside the capture (cuDNN picks its algorithms there),
then one forward runs inside the CUDA profiler's capture range (ncu --profile-from-start off) with
every leaf layer in an NVTX range named "layer:<name>", so each kernel ncu measures carries the
layer that launched it. Usage: python -m cnnbench.ncu_target CONFIG.json
"""

import json
import sys
from pathlib import Path

import torch

from .data import DataChoice, input_batch
from .models import load_model
from .modes import Mode, Runner
from .ncu import BATCH_RANGE
from .profiling import LayerRanges

WARM_UP_FORWARDS = 3


def profile_forwards(*, model: str, weights: str, seed: int, device: str, precision: str, channels_last: bool,
                     rewrite: bool, batch_sizes: list, data_root=None) -> None:
    loaded = load_model(model, weights, seed, allow_random_fallback=True)
    runner = Runner(loaded.model, Mode(precision, channels_last, rewrite=rewrite), torch.device(device))
    data = DataChoice(root=Path(data_root) if data_root else None)
    for batch_size in batch_sizes:
        runner.warm_up(input_batch(data, loaded.transforms, batch_size, seed), WARM_UP_FORWARDS)
        ranges = LayerRanges(runner.eager_model, scope=torch.cuda.nvtx.range)
        try:
            with torch.inference_mode(), torch.cuda.nvtx.range(f"{BATCH_RANGE}{batch_size}"):
                torch.cuda.synchronize()
                torch.cuda.profiler.start()
                runner.run()
                torch.cuda.synchronize()
                torch.cuda.profiler.stop()
        finally:
            ranges.remove()


if __name__ == "__main__":
    profile_forwards(**json.loads(Path(sys.argv[1]).read_text()))
