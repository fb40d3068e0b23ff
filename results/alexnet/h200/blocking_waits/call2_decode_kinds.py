"""Which JPEG kinds does torchvision's batched nvJPEG call take on the hardware engines? Per kind: wall and
host-CPU time per image for one batched call (files in memory, one process, no model), and mixed batches."""
import sys, time, glob, random
import torch
from PIL import Image, JpegImagePlugin
from torchvision.io import decode_jpeg, read_file, ImageReadMode

root = sys.argv[1]
paths = sorted(glob.glob(f"{root}/**/*.JPEG", recursive=True))
random.Random(0).shuffle(paths)
groups = {}
for path in paths[:6000]:
    with Image.open(path) as im:
        if im.mode == "CMYK" or im.info.get("progressive") or im.info.get("progression"):
            continue
        if im.mode == "L":
            kind = "gray"
        else:
            kind = {0: "444", 1: "422", 2: "420"}.get(JpegImagePlugin.get_sampling(im), "other")
        if max(im.size) > 600:
            kind += "_large"
    groups.setdefault(kind, []).append(read_file(path))
print({k: len(v) for k, v in groups.items()}, flush=True)
dev = torch.device("cuda")
decode_jpeg([groups["420"][0]], device=dev, mode=ImageReadMode.RGB); torch.cuda.synchronize()

def timed(files, reps=5):
    decode_jpeg(files, device=dev, mode=ImageReadMode.RGB); torch.cuda.synchronize()
    walls, cpus = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        decode_jpeg(files, device=dev, mode=ImageReadMode.RGB); torch.cuda.synchronize()
        walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
    walls.sort(); cpus.sort()
    n = len(files)
    return f"{n:4d} files: {walls[len(walls)//2]*1e3:8.2f} ms per call, {walls[len(walls)//2]/n*1e6:7.1f} us/image wall, {cpus[len(cpus)//2]/n*1e6:7.1f} us/image host CPU"

def cpu_timed(files):
    w = time.perf_counter()
    for f in files: decode_jpeg(f)
    return f"cpu libjpeg-turbo one thread: {(time.perf_counter()-w)/len(files)*1e6:7.1f} us/image"

for kind, files in sorted(groups.items()):
    files = files[:256]
    print(f"{kind:12s}", timed(files), "|", cpu_timed(files[:64]), flush=True)
base = groups["420"][:256]
print("mixed: 420 x256           ", timed(base))
for kind in ("gray", "444", "420_large", "gray_large", "444_large"):
    if kind in groups and len(groups[kind]) >= 8:
        print(f"mixed: 420 x248 + {kind} x8", timed(base[:248] + groups[kind][:8]))
