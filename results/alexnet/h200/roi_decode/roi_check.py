"""ROI decode equals the whole decode's box, on the GPU (a few varied files)."""
import glob, sys
import torch
from nvidia import nvimgcodec as n
sys.path.insert(0, ".")
from roi_probe import window
decoder = n.Decoder(device_id=0, backends=[n.Backend(n.BackendKind.HW_GPU_ONLY, load_hint=0.6), n.Backend(n.BackendKind.GPU_ONLY)])
params = n.DecodeParams(apply_exif_orientation=False, color_spec=n.ColorSpec.SRGB, allow_any_depth=False, sample_format=n.SampleFormat.P_RGB)
worst = 0
for path in sorted(glob.glob(f"{sys.argv[1]}/**/*.JPEG", recursive=True))[:40]:
    s = n.CodeStream(open(path, "rb").read())
    full = decoder.decode([s], params=params)[0]
    y0, x0, y1, x1 = window(s.width, s.height)
    roi = decoder.decode([s.get_sub_code_stream(region=n.Region(y0, x0, y1, x1))], params=params)[0]
    if full is None or roi is None:
        continue
    f, r = torch.as_tensor(full, device="cuda"), torch.as_tensor(roi, device="cuda")
    worst = max(worst, (f[:, y0:y1, x0:x1].int() - r.int()).abs().max().item())
print("roi vs full box, max abs difference over 40 files:", worst)
