import sys, torch
sys.path.insert(0, ".")
from torchvision.models import AlexNet_Weights
from cnnbench.data import open_dataset
from cnnbench.batches import collate_samples
from cnnbench.gpu_decode import DecodeOnDevice
dev = torch.device(sys.argv[1] if len(sys.argv) > 1 else "cpu")
tf = AlexNet_Weights.DEFAULT.transforms()
ref = open_dataset("probe/nasty/val", tf, "pil")
for decode in ["cpu", "nvjpeg"] + sys.argv[2:]:
    ds = open_dataset("probe/nasty/val", tf, decode)
    for i in range(len(ds)):
        r = collate_samples([ref[i]])
        if decode == "cpu":
            b = collate_samples([ds[i]])
        else:
            b = DecodeOnDevice(dev, ds.prep, decode)([ds[i]])
        name = ds.samples[i][0].split("/")[-1]
        if r.bad or b.bad or b.crops is None:
            print(decode, name, "bad", r.bad, b.bad); continue
        mean = torch.tensor(tf.mean).view(3,1,1)*255; std = torch.tensor(tf.std).view(3,1,1)*255
        refg = r.crops[0]*std+mean
        d = (b.crops[0].float().cpu() - refg).abs()
        print(f"{decode:8s} {name:22s} mean {d.mean():.3f} max {d.max():.1f} fallback {b.cpu_fallback}")
