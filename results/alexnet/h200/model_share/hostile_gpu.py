"""Each odd file through the worker's GPU decode (DecodeOnDevice on cuda), one batch per class folder,
against PIL + the weights' transforms: the largest grey-level difference per file kind."""
import sys, torch
sys.path.insert(0, "tests")
from test_varied_jpegs import reference_grey, TRANSFORMS
from cnnbench.batches import DeviceFeeder
from cnnbench.data import open_dataset
from cnnbench.gpu_decode import DecodeOnDevice
from cnnbench.preprocess import Preprocess
root, decoder = sys.argv[1], sys.argv[2]
dev = torch.device("cuda:0")
reference, paths = reference_grey(root)
dataset = open_dataset(root, TRANSFORMS, decoder)
prep = Preprocess.from_transforms(TRANSFORMS)
collate = DecodeOnDevice(dev, prep, decoder)
collate.warm_up()
feeder = DeviceFeeder(dev, prep, normalized_crops=False)
for size in (len(dataset), 7):
    worst = {}
    for start in range(0, len(dataset), size):
        idx = list(range(start, min(start + size, len(dataset))))
        batch = collate([dataset[i] for i in idx])
        images, _ = feeder(batch)
        grey = (images * feeder.std + feeder.mean).cpu()
        assert batch.crop_slots == list(range(len(idx))), batch.crop_slots
        diff = (grey - reference[idx]).abs().amax(dim=(1, 2, 3))
        for i, d in zip(idx, diff.tolist()):
            kind = paths[i].split("/")[-1].rsplit("_", 1)[0]
            worst[kind] = max(worst.get(kind, 0), d)
        print(f"batch {size} from {start}: fallback {batch.cpu_fallback} bad {batch.bad}")
    for kind, d in sorted(worst.items(), key=lambda kv: -kv[1]):
        print(f"   {kind:22s} max {d:.1f}")
