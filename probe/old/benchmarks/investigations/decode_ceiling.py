#!/usr/bin/env python3
"""How fast each GPU decoder takes each kind of JPEG, files already in memory, one process.

Groups a folder's GPU-decodable files by what may change a decoder's speed (chroma subsampling,
grey, a long side over 600 px) and times batched decodes of each group with each decoder that
runs here (cnnbench.gpu_decode), synchronized, after a warm-up batch. The end-to-end pipeline can
go no faster than these ceilings on its mix. Usage: decode_ceiling.py FOLDER [--files 4096]
"""

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnnbench.errors import UserError  # noqa: E402
from cnnbench.gpu_decode import GPU_DECODERS, make_gpu_decoder  # noqa: E402
from cnnbench.jpeg_info import jpeg_info  # noqa: E402

BATCH = 256
SECONDS = 2.0


def kind_of(path: Path) -> str:
    with Image.open(path) as image:
        if image.mode == "L":
            return "grey"
        sampling = "4:4:4" if len({(h, v) for _, h, v, _ in image.layer}) == 1 else "4:2:x"
        return f"{sampling}, long side {'> 600' if max(image.size) > 600 else '<= 600'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=4096)
    args = parser.parse_args()
    device = torch.device("cuda")
    groups = defaultdict(list)
    for path in sorted(args.folder.rglob("*.JPEG"))[:args.files]:
        data = path.read_bytes()
        if jpeg_info(data).gpu_decodable:
            groups[kind_of(path)].append(torch.frombuffer(bytearray(data), dtype=torch.uint8).pin_memory())
    groups["all of them"] = [f for files in list(groups.values()) for f in files]
    results = {}
    for name in GPU_DECODERS:
        try:
            decoder = make_gpu_decoder(name, device)
        except UserError as error:
            print(f"{name}: {error}")
            continue
        for kind, files in groups.items():
            batches = [files[i:i + BATCH] for i in range(0, len(files), BATCH)]
            decoder.decode(batches[0])
            torch.cuda.synchronize()
            images, started = 0, time.perf_counter()
            while time.perf_counter() - started < SECONDS:
                for batch in batches:
                    decoder.decode(batch)
                    images += len(batch)
                torch.cuda.synchronize()
            rate = images / (time.perf_counter() - started)
            results[f"{name} | {kind}"] = {"files": len(files), "images_per_second": round(rate)}
            print(f"{name:<11} {kind:<28} {len(files):>6} files {rate:>10,.0f} images/s", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
