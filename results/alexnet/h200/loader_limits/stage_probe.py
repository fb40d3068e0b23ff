"""Where the loader worker's time beyond the decoder goes: P processes, each with its share of a set, run
variants of one worker batch (256 files) for SECONDS each, at the same time, no DataLoader:
  decode          in-memory bytes, torchvision batched nvJPEG, sync
  decode_resize   + resample.resize_crop_batch, sync
  worker          gpu_decode.DecodeOnDevice on the batch's paths (read, header, decode, resize, CPU files, sync)
  worker_noresize the same with the resize replaced by an empty tensor
  decode_model    decode, with the model process below
  worker_model    worker, with one more process running AlexNet bf16 channels_last batch 256 at about 15k img/s
Then the product's loader alone (data.make_loader, 8 workers, no model) over the set, twice.
Prints aggregate images/s and host CPU seconds per image (all threads of the P processes).
Usage: [PROBE_VARIANTS=a,b] [PROBE_LOADER=0] stage_probe.py DIR P SECONDS
  decode_tiny     decode, then one small kernel
  decode_fill     decode, then one kernel writing 256 MB"""
import glob, os, sys, time
import multiprocessing as mp

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
VARIANTS = tuple(os.environ.get("PROBE_VARIANTS", "decode,decode_model,worker,worker_model").split(","))
BATCH = 256


def worker(paths, seconds, barrier, out):
    import torch
    from cnnbench import gpu_decode
    from cnnbench.jpeg_info import jpeg_info
    from cnnbench.preprocess import Preprocess
    from torchvision.io import decode_jpeg, ImageReadMode
    torch.set_num_threads(1)
    device = torch.device(os.environ.get("PROBE_DEVICE", "cuda:0"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    prep = Preprocess()
    collate = gpu_decode.DecodeOnDevice(device, prep, "nvjpeg")
    collate.warm_up()
    datas = [open(p, "rb").read() for p in paths]
    gpu_ok = [jpeg_info(memoryview(d)).gpu_decodable for d in datas]
    tensors = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d, ok in zip(datas, gpu_ok) if ok]
    real_resize = gpu_decode.resize_crop_batch
    scratch = torch.empty(256 << 20, dtype=torch.uint8, device=device)

    def fake_resize(images, prep):
        return torch.empty(len(images), 3, prep.crop_size, prep.crop_size, dtype=torch.uint8, device=device)

    def batch(variant, i):
        if variant.startswith("decode"):
            chunk = tensors[i % max(1, len(tensors) - BATCH + 1):][:BATCH]
            images = decode_jpeg(chunk, device=device, mode=ImageReadMode.RGB)
            if variant == "decode_resize":
                real_resize(images, prep)
            elif variant == "decode_tiny":     # one more small kernel in this process's context
                scratch[:1].add_(1)
            elif variant == "decode_fill":     # one kernel writing 256 MB, about 0.1 ms of the GPU
                scratch.fill_(1)
            sync()
            return len(chunk)
        gpu_decode.resize_crop_batch = fake_resize if variant == "worker_noresize" else real_resize
        chunk = paths[i % max(1, len(paths) - BATCH + 1):][:BATCH]
        result = collate([("encoded", p, 0) for p in chunk])
        return result.crops.shape[0]
    for variant in VARIANTS:
        batch(variant, 0)
        barrier.wait()
        start, cpu0, done, i = time.perf_counter(), time.process_time(), 0, 0
        while time.perf_counter() - start < seconds:
            done += batch(variant, i)
            i += BATCH
        wall = time.perf_counter() - start
        out.put((variant, done, wall, time.process_time() - cpu0))
        barrier.wait()


def model_process(stop, ready, rate):
    import torch, torchvision
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.alexnet().cuda().eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 3, 224, 224, device="cuda", dtype=torch.bfloat16).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
        ready.set()
        period, next_at = BATCH / rate, time.perf_counter()
        while not stop.is_set():
            model(x).float().argmax(1).cpu()
            next_at += period
            time.sleep(max(0.0, next_at - time.perf_counter()))


def loader_alone(root, workers, passes=2):
    import torch
    from cnnbench.data import make_loader, open_dataset
    from cnnbench.models import load_model
    device = torch.device(os.environ.get("PROBE_DEVICE", "cuda:0"))
    loaded = load_model("alexnet", weights="none")
    dataset = open_dataset(root, loaded.transforms, "nvjpeg")
    loader = make_loader(dataset, list(range(len(dataset))), BATCH, workers, device)
    for _ in loader:
        pass
    loader.batch_sampler.warm_up_done()
    for _ in range(passes):
        start, done = time.perf_counter(), 0
        for batch in loader:
            done += 0 if batch.crops is None else batch.crops.shape[0]
        if device.type == "cuda":
            torch.cuda.synchronize()
        print(f"  loader alone, {workers} workers: {done / (time.perf_counter() - start):9,.0f} images/s "
              f"({done} images)", flush=True)


def main():
    root, procs, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    paths = sorted(glob.glob(f"{root}/**/*.JPEG", recursive=True))
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs + 1), ctx.Queue()
    share = len(paths) // procs
    ps = [ctx.Process(target=worker, args=(paths[k::procs], seconds, barrier, out)) for k in range(procs)]
    [p.start() for p in ps]
    print(f"{root}: {len(paths)} files, {procs} processes, {seconds} s per variant", flush=True)
    for variant in VARIANTS:
        stop, ready, model = None, None, None
        if variant.endswith("_model") and os.environ.get("PROBE_DEVICE", "cuda").startswith("cuda"):
            stop, ready = ctx.Event(), ctx.Event()
            model = ctx.Process(target=model_process, args=(stop, ready, 15000.0))
            model.start()
            ready.wait(120)
        barrier.wait()
        rows = [out.get(timeout=300) for _ in ps]
        barrier.wait()
        if model is not None:
            stop.set(); model.join()
        assert all(r[0] == variant for r in rows)
        images, cpu = sum(r[1] for r in rows), sum(r[3] for r in rows)
        rate = sum(r[1] / r[2] for r in rows)
        print(f"  {variant:16s} {rate:9,.0f} images/s, host CPU {1e6 * cpu / images:6.0f} us/image, "
              f"{cpu / max(r[2] for r in rows):5.1f} cores", flush=True)
    [p.join() for p in ps]
    if os.environ.get("PROBE_LOADER", "1") == "1":
        loader_alone(root, procs)


if __name__ == "__main__":
    main()
