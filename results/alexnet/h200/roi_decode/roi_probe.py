"""Decode throughput of nvImageCodec (hardware engines + CUDA decoder, the product's backends) when it decodes
only each file's centre-crop window (ROI) against the whole image; torchvision's batched nvJPEG beside it.
Files in memory, P processes decoding batches of 256 for SECONDS each, no model. Usage: roi_probe.py DIR P SECONDS"""
import glob, math, sys, time
import multiprocessing as mp

VARIANTS = ("tv", "full", "roi")


def window(width, height, resize=256, crop=224):
    """The centre-crop's box in the source plus the filter's reach (bilinear antialias: `scale` px) and a margin."""
    scale = min(width, height) / resize
    keep_w, keep_h = crop * scale, crop * scale
    reach = math.ceil(scale) + 2
    x0 = max(0, int((width - keep_w) / 2) - reach); x1 = min(width, math.ceil((width + keep_w) / 2) + reach)
    y0 = max(0, int((height - keep_h) / 2) - reach); y1 = min(height, math.ceil((height + keep_h) / 2) + reach)
    return y0, x0, y1, x1


def worker(files, seconds, barrier, out):
    import torch
    from nvidia import nvimgcodec as n
    from torchvision.io import decode_jpeg, ImageReadMode
    torch.zeros(1, device="cuda")
    decoder = n.Decoder(device_id=0, backends=[n.Backend(n.BackendKind.HW_GPU_ONLY, load_hint=0.6),
                                                n.Backend(n.BackendKind.GPU_ONLY)])
    params = n.DecodeParams(apply_exif_orientation=False, color_spec=n.ColorSpec.SRGB, allow_any_depth=False,
                            sample_format=n.SampleFormat.P_RGB)
    whole = [n.CodeStream(f) for f in files]
    roi = [s.get_sub_code_stream(region=n.Region(*window(s.width, s.height))) for s in whole]
    tensors = [torch.frombuffer(bytearray(f), dtype=torch.uint8) for f in files]
    stream = torch.cuda.current_stream()

    def batch(variant, i):
        if variant == "tv":
            return decode_jpeg(tensors[i:i + 256], device="cuda", mode=ImageReadMode.RGB)
        streams = roi if variant == "roi" else whole
        return decoder.decode(streams[i:i + 256], params=params, cuda_stream=stream.cuda_stream)
    for variant in VARIANTS:
        batch(variant, 0); torch.cuda.synchronize()
        barrier.wait()
        start, done, i = time.perf_counter(), 0, 0
        while time.perf_counter() - start < seconds:
            images = batch(variant, i); torch.cuda.synchronize()
            done += sum(image is not None for image in images)
            i = (i + 256) % max(1, len(files) - 255)
        out.put((variant, done / (time.perf_counter() - start)))


def main():
    root, procs, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sys.path.insert(0, "..")
    from cnnbench.jpeg_info import jpeg_info
    files = []
    for path in sorted(glob.glob(f"{root}/**/*.JPEG", recursive=True)):
        data = open(path, "rb").read()
        if jpeg_info(memoryview(data)).gpu_decodable:
            files.append(data)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    share = len(files) // procs
    ps = [ctx.Process(target=worker, args=(files[k * share:(k + 1) * share], seconds, barrier, out))
          for k in range(procs)]
    [p.start() for p in ps]
    for variant in VARIANTS:
        rates = [out.get(timeout=120) for _ in ps]
        assert all(name == variant for name, _ in rates)
        print(f"{root.split('/')[-1]:8s} {procs} processes {variant:5s}: {sum(r for _, r in rates):9,.0f} images/s",
              flush=True)
    [p.join() for p in ps]


if __name__ == "__main__":
    main()
