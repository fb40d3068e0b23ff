"""A folder of the world's odd files, one class each kind, for the end-to-end paths."""
import io, sys, os
import numpy as np
from PIL import Image

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361"]

def photo(w, h, seed):
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.uniform(0, 255, (h // 16 + 1, w // 16 + 1, 3)).astype(np.uint8))
    scene = np.asarray(coarse.resize((w, h), Image.BICUBIC), dtype=np.float32) + rng.normal(0, 20, (h, w, 3))
    return Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))

def save(img, fmt="JPEG", **kw):
    b = io.BytesIO(); img.save(b, fmt, **kw); return b.getvalue()

def kinds():
    p = photo(500, 375, 1)
    k = {}
    k["tiny_1x1"] = save(photo(1, 1, 2)) if False else save(Image.new("RGB", (1, 1), (10, 200, 30)))
    k["tiny_7x3"] = save(photo(7, 3, 3))
    k["strip_2000x20"] = save(photo(2000, 20, 4))
    k["strip_20x2000"] = save(photo(20, 2000, 5))
    k["huge_6000x4000"] = save(photo(6000, 4000, 6), quality=85)
    k["s422"] = save(p, subsampling=1)
    k["s444_q100"] = save(p, subsampling=0, quality=100)
    k["restart"] = save(p, restart_marker_rows=1) if "restart_marker_rows" in Image.init.__code__.co_names or True else None
    k["icc_exif"] = save(p, exif=Image.Exif(), icc_profile=b"\0" * 400)
    ex = Image.Exif(); ex[0x0112] = 6
    k["exif_rot6"] = save(p, exif=ex.tobytes())
    k["gray_prog"] = save(p.convert("L"), progressive=True)
    k["cmyk_prog"] = save(photo(300, 400, 7).convert("CMYK"), progressive=True)
    k["optimize"] = save(p, optimize=True)
    k["trailing_garbage"] = save(p) + b"\x00garbage" * 100
    k["png_rgba"] = save(p.convert("RGBA"), "PNG")
    pal = p.convert("P", palette=Image.ADAPTIVE); pal.info["transparency"] = 0
    k["png_palette_transp"] = save(pal, "PNG", transparency=0)
    k["png_16bit_grey"] = save(Image.fromarray((np.asarray(p.convert("L"), dtype=np.uint16) * 257)), "PNG")
    k["png_LA"] = save(p.convert("LA"), "PNG")
    k["bmp_1bit"] = save(p.convert("1"), "BMP")
    k["gif"] = save(p, "GIF")
    k["webp"] = save(p, "WEBP")
    k["tiff_cmyk"] = save(p.convert("CMYK"), "TIFF")
    return k

def main(out, copies=3):
    ks = kinds()
    for i, (name, data) in enumerate(ks.items()):
        if data is None: continue
        folder = os.path.join(out, WNIDS[i % len(WNIDS)])
        os.makedirs(folder, exist_ok=True)
        for c in range(copies):
            # ImageNet names every file .JPEG whatever it holds
            open(os.path.join(folder, f"{name}_{c}.JPEG"), "wb").write(data)
    print(len(ks), "kinds")

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
