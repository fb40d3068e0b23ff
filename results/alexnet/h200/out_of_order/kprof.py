"""Device time per batch of 256, one process: torchvision nvJPEG decode, the batched resize, the
normalize, AlexNet bf16 channels_last. torch.profiler, kernels and memcpys summed by phase."""
import glob, sys, time
import torch
from torch.profiler import profile, ProfilerActivity, record_function
import torchvision
from cnnbench.batches import read_encoded
from cnnbench.gpu_decode import NvjpegDecoder
from cnnbench.jpeg_info import jpeg_info
from cnnbench.preprocess import Preprocess
from cnnbench.resample import resize_crop_batch

dev = torch.device("cuda:0")
prep = Preprocess()
model = torchvision.models.alexnet().to(dev, torch.bfloat16).to(memory_format=torch.channels_last).eval()
mean = torch.tensor(prep.mean, device=dev).view(1, 3, 1, 1) * 255
std = torch.tensor(prep.std, device=dev).view(1, 3, 1, 1) * 255
decoder = NvjpegDecoder(dev)
for name in sys.argv[1:]:
    files = [read_encoded(p) for p in sorted(glob.glob(f"{name}/*/*"))[:2048]]
    files = [f for f in files if jpeg_info(f.numpy()).gpu_decodable][:256 * 6]
    batches = [files[i:i + 256] for i in range(0, len(files), 256)]
    def step(b):
        with record_function("decode"):
            images = decoder.decode(b); torch.cuda.synchronize()
        with record_function("resize"):
            crops = resize_crop_batch(images, prep); torch.cuda.synchronize()
        with record_function("normalize"):
            x = ((crops.float() - mean) / std); torch.cuda.synchronize()
        with record_function("model"), torch.inference_mode():
            model(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)); torch.cuda.synchronize()
    for b in batches[:2]:
        step(b)
    walls = {}
    for b in batches[2:]:
        for phase in ("decode",):
            pass
        t = time.perf_counter(); images = decoder.decode(b); torch.cuda.synchronize(); walls.setdefault("decode", []).append(time.perf_counter() - t)
        t = time.perf_counter(); crops = resize_crop_batch(images, prep); torch.cuda.synchronize(); walls.setdefault("resize", []).append(time.perf_counter() - t)
    print(name, "wall ms per batch:", {k: round(1000 * sum(v) / len(v), 2) for k, v in walls.items()})
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for b in batches[2:]:
            step(b)
    n = len(batches) - 2
    events = prof.events()
    ranges = [(e.name, e.time_range.start, e.time_range.end) for e in events if e.name in ("decode", "resize", "normalize", "model") and e.device_type.name == "CPU"]
    per = {}
    kern = {}
    for e in events:
        if e.device_type.name != "CUDA":
            continue
        dur = e.time_range.end - e.time_range.start
        # attribute device events to a phase by their launching CPU op's range, else by time
        phase = "?"
        for r, s, t in ranges:
            if s <= e.time_range.start <= t:
                phase = r
        per[phase] = per.get(phase, 0) + dur
        kern[(phase, e.name[:80])] = kern.get((phase, e.name[:80]), 0) + dur
    print(name, "device us per batch by phase:", {k: round(v / n) for k, v in per.items()})
    for (phase, k), v in sorted(kern.items(), key=lambda kv: -kv[1])[:14]:
        print(f"   {phase:10s} {v / n:9.0f} us  {k}")
