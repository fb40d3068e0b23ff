#!/usr/bin/env python3
"""Generate ImageNet-shaped JPEGs (default 500x375, quality 90, ~110 KB) in wnid folders.

Smooth random scenes with fine noise compress like photographs; pure noise would not.
Usage: python benchmarks/make_jpegs.py OUT_DIR --count 8000 --classes 100
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.data import imagenet_wnids  # noqa: E402


def make_one(job) -> int:
    path, seed, width, height, quality = job
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    scene = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    scene += rng.normal(0, 22, scene.shape)
    Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=quality)
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=8000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--size", default="500x375")
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    wnids = imagenet_wnids()[:: 1000 // args.classes][: args.classes]
    jobs = []
    for i in range(args.count):
        folder = args.out / wnids[i % len(wnids)]
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"gen_{i:06d}.JPEG", i, width, height, args.quality))
    with ProcessPoolExecutor() as pool:
        sizes = list(pool.map(make_one, jobs, chunksize=64))
    print(f"{len(sizes)} JPEGs in {len(wnids)} classes under {args.out}, mean {np.mean(sizes) / 1e3:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
