#!/usr/bin/env python3
"""Top-1/top-5 predictions of one model through each decode path, on the same images, against PIL's.

Pretrained weights can't be fetched here, so the comparison is between paths, not against labels:
the share of images whose predicted classes match the PIL path's, on logits centred over the
images (fidelity.prediction_agreement: a random network's raw top-1 is one class for every image,
shown here as raw_top1_distinct_classes), the top-1/top-5 each path scores against the folder
labels, and how far each path's input pixels are from PIL's (fidelity.decode_fidelity).
Usage: python benchmarks/decode_agreement.py DATA --limit 2000
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from torchvision.models import AlexNet_Weights

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.benchmark import evaluate  # noqa: E402
from cnnbench.batches import DeviceFeeder  # noqa: E402
from cnnbench.data import choose_indices, default_workers, open_dataset  # noqa: E402
from cnnbench.fidelity import decode_fidelity, prediction_agreement  # noqa: E402
from cnnbench.gpu_decode import GPU_DECODERS, make_gpu_decoder  # noqa: E402
from cnnbench.errors import UserError  # noqa: E402
from cnnbench.models import load_model  # noqa: E402
from cnnbench.modes import Mode, Runner  # noqa: E402
from cnnbench.preprocess import Preprocess  # noqa: E402


def gpu_decoders_here(device) -> list:
    if device.type != "cuda":
        return []
    found = []
    for name in GPU_DECODERS:
        try:
            found.append(make_gpu_decoder(name, device).name)
        except UserError:
            pass
    return found


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
    decoders = ["pil", "cpu"] + gpu_decoders_here(device)
    results, pixels = {}, {}
    for decode in decoders:
        dataset = open_dataset(args.data, transforms, decode, gpu_share=1.0)   # gpu: every image through it
        indices = choose_indices(len(dataset), args.limit, seed=0)
        feeder = DeviceFeeder(device, Preprocess.from_transforms(transforms), normalized_crops=decode == "pil")
        raw = evaluate(runner, dataset, indices, 250, default_workers(decode), 2, feeder, progress=False,
                       keep_logits=True)
        n = sum(raw["batch_images"])
        results[decode] = {"logits": raw["logits"], "top1": sum(raw["batch_top1"]) / n,
                           "top5": sum(raw["batch_top5"]) / n}
        pixels[decode] = decode_fidelity(args.data, transforms, decode, feeder, indices)
    reference = results["pil"]["logits"]
    summary = {decode: {"top1": r["top1"], "top5": r["top5"],
                        "raw_top1_distinct_classes": r["logits"].argmax(dim=1).unique().numel(),
                        "agreement_with_pil": prediction_agreement(reference, r["logits"])}
               for decode, r in results.items()}
    print(json.dumps({"weights": loaded.weights, "device": str(device), "paths": summary,
                      "pixel_difference_from_pil": pixels}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
