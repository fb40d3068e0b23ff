#!/usr/bin/env python3
"""Top-1 predictions of one model through each decode path, on the same images, against PIL's.

Pretrained weights can't be fetched here, so the comparison is between paths, not against labels:
the share of images whose predicted class matches the PIL path's, and the top-1/top-5 each path
scores against the folder labels. Usage: python benchmarks/decode_agreement.py DATA --limit 2000
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from torchvision.models import AlexNet_Weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.benchmark import evaluate  # noqa: E402
from cnnbench.data import choose_indices, default_workers, open_dataset  # noqa: E402
from cnnbench.decode import DeviceFeeder, Preprocess, gpu_decode_available  # noqa: E402
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import Mode, Runner  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--weights", default="none")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    loaded = load_model("alexnet", args.weights, seed=0, allow_random_fallback=True)
    transforms = loaded.transforms or AlexNet_Weights.DEFAULT.transforms()
    runner = Runner(loaded.model, Mode(), device)   # fp32, TF32 off: differences come from decoding
    decoders = ["pil", "cpu"] + (["gpu"] if gpu_decode_available(device) else [])
    results = {}
    for decode in decoders:
        dataset = open_dataset(args.data, transforms, decode, gpu_share=1.0)   # gpu: every image through nvJPEG
        indices = choose_indices(len(dataset), args.limit, seed=0)
        feeder = DeviceFeeder(device, Preprocess.from_transforms(transforms), normalized_crops=decode == "pil")
        raw = evaluate(runner, dataset, indices, 250, default_workers(decode), 2, feeder, progress=False,
                       keep_predictions=True)
        n = sum(raw["batch_images"])
        results[decode] = {"predictions": torch.tensor(raw["predictions"]), "images": n,
                           "top1": sum(raw["batch_top1"]) / n, "top5": sum(raw["batch_top5"]) / n}
    reference = results["pil"]["predictions"]
    summary = {decode: {"images": r["images"], "top1": r["top1"], "top5": r["top5"],
                        "top1_agreement_with_pil": (r["predictions"] == reference).float().mean().item()}
               for decode, r in results.items()}
    print(json.dumps({"weights": loaded.weights, "device": str(device), "paths": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
