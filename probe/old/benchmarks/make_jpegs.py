#!/usr/bin/env python3
"""Generate ImageNet-shaped JPEGs in wnid folders: all one size, or a varied mix like ImageNet's.

Smooth random scenes with fine noise compress like photographs; pure noise would not.
Same size (default): every file 500x375, quality 90, ~110 KB.
--varied: most long sides 500 in the val set's common shapes (500x375, 375x500, 500x333, 333x500,
500x500, ...), a tail of other sizes (--other-share of them, long side up to --max-side), quality
75-95; 3% grayscale, 1% CMYK, 3% progressive, 8% with 4:4:4 chroma, the rest 4:2:0.
Usage: python benchmarks/make_jpegs.py OUT_DIR --count 8000 --classes 100 [--varied]
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnbench.data import imagenet_wnids  # noqa: E402

COMMON_SHORT_SIDES = (375, 375, 375, 333, 333, 500, 281, 400)     # with a long side of 500
KINDS = (("gray", 0.03), ("cmyk", 0.01), ("progressive", 0.03), ("444", 0.08))


def varied_spec(rng, other_share: float, max_side: int) -> tuple:
    """(width, height, kind, quality) drawn from the ImageNet-like mix."""
    if rng.random() < other_share:
        long = int(rng.integers(150, max_side + 1))
        short = max(int(long * rng.uniform(0.5, 1.0)), 32)
    else:
        long, short = 500, int(rng.choice(COMMON_SHORT_SIDES))
    width, height = (long, short) if rng.random() < 0.75 else (short, long)
    draw, kind = rng.random(), "420"
    for name, share in KINDS:
        if draw < share:
            kind = name
            break
        draw -= share
    return width, height, kind, int(rng.integers(75, 96))


def make_one(job) -> int:
    path, seed, width, height, kind, quality = job
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    scene = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    scene += rng.normal(0, 22, scene.shape)
    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))
    options = {"quality": quality}
    if kind == "gray":
        image = image.convert("L")
    elif kind == "cmyk":
        image = image.convert("CMYK")
    elif kind == "progressive":
        options["progressive"] = True
    elif kind == "444":
        options["subsampling"] = 0
    image.save(path, "JPEG", **options)
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=8000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--size", default="500x375", help="every file's size, without --varied")
    parser.add_argument("--quality", type=int, default=90, help="without --varied")
    parser.add_argument("--varied", action="store_true", help="the ImageNet-like mix of sizes and kinds")
    parser.add_argument("--other-share", type=float, default=0.1, help="with --varied: share of other sizes")
    parser.add_argument("--max-side", type=int, default=1600, help="with --varied: longest side of those")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    wnids = imagenet_wnids()[:: 1000 // args.classes][: args.classes]
    rng = np.random.default_rng(args.seed)
    jobs = []
    for i in range(args.count):
        folder = args.out / wnids[i % len(wnids)]
        folder.mkdir(parents=True, exist_ok=True)
        spec = varied_spec(rng, args.other_share, args.max_side) if args.varied else (width, height, "420", args.quality)
        jobs.append((folder / f"gen_{i:06d}.JPEG", args.seed * 10**7 + i, *spec))
    with ProcessPoolExecutor() as pool:
        sizes = list(pool.map(make_one, jobs, chunksize=64))
    widths, heights = [job[2] for job in jobs], [job[3] for job in jobs]
    kinds = {name: sum(job[4] == name for job in jobs) for name, _ in KINDS}
    print(f"{len(sizes)} JPEGs in {len(wnids)} classes under {args.out}, mean {np.mean(sizes) / 1e3:.0f} KB, "
          f"mean size {np.mean(widths):.0f}x{np.mean(heights):.0f}, {len(set(zip(widths, heights)))} distinct sizes, "
          f"{', '.join(f'{n} {k}' for k, n in kinds.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
