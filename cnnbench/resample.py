"""Resize-then-centre-crop of many images of different sizes in a few batched matrix products.

The weights' eval transform (resize the short side with antialiased bilinear, centre crop) keeps
one box of each source image and resamples it to crop x crop pixels. Antialiased bilinear
resampling is separable: out = Wy @ image @ Wx^T, where row j of Wy holds the triangle-filter
taps of output row j (PIL's coefficients: support scaled with the downscale factor, normalized per
output pixel). So images of any sizes are resized together: each image's window (the box plus the
filter's reach) is copied into a zero-padded batch, per-image Wy and Wx are built on the device,
and two batched products give every crop at once. Images are grouped by window size so that one
large image does not pad the whole batch. fp16 operands (exact for 0..255, taps to 11 bits) and
fp32 accumulation stay within one grey level of PIL, which rounds between its two passes.
"""

import math
from collections import defaultdict

import torch

WINDOW_ALIGN = 64      # windows are padded to multiples of this; images share a group per padded size


def _axis_box(size: int, new_size: int, crop: int) -> tuple:
    """(box start, box end) in source pixels of the centre crop after resizing `size` to `new_size`."""
    start = int(round((new_size - crop) / 2.0))        # torchvision's center_crop rounding
    scale = size / new_size
    return start * scale, (start + crop) * scale


def _support(box_start: float, box_end: float, crop: int) -> float:
    return max((box_end - box_start) / crop, 1.0)      # bilinear support 1, widened when downscaling


def _window(size: int, box_start: float, box_end: float, crop: int) -> tuple:
    """(first source pixel, pixel count) any output tap reads; one spare pixel each side."""
    scale = (box_end - box_start) / crop
    support = _support(box_start, box_end, crop)
    first = max(math.floor(box_start + 0.5 * scale - support + 0.5) - 1, 0)
    last = min(math.floor(box_start + (crop - 0.5) * scale + support + 0.5) + 1, size)
    return first, last - first


def _taps(sizes, box_starts, box_ends, window_starts, window_length: int, crop: int, device) -> torch.Tensor:
    """(n, crop, window_length) resampling matrices, PIL's antialiased bilinear coefficients."""
    f64 = dict(dtype=torch.float64, device=device)
    sizes, box_starts = torch.tensor(sizes, **f64), torch.tensor(box_starts, **f64)
    box_ends, window_starts = torch.tensor(box_ends, **f64), torch.tensor(window_starts, **f64)
    scale = (box_ends - box_starts) / crop
    support = scale.clamp(min=1.0)
    centers = box_starts[:, None] + (torch.arange(crop, **f64) + 0.5) * scale[:, None]          # (n, crop)
    first = torch.floor(centers - support[:, None] + 0.5).clamp(min=0)
    end = torch.minimum(torch.floor(centers + support[:, None] + 0.5), sizes[:, None])
    count = int(math.ceil(2 * support.max().item())) + 2
    x = first[..., None] + torch.arange(count, **f64)                                          # (n, crop, count)
    weights = (1 - ((x - centers[..., None] + 0.5) / support[:, None, None]).abs()).clamp(min=0)
    weights = torch.where(x < end[..., None], weights, torch.zeros_like(weights))
    weights = weights / weights.sum(dim=-1, keepdim=True)
    local = (x - window_starts[:, None, None]).clamp(0, window_length - 1).long()
    matrix = torch.zeros(len(sizes), crop, window_length, **f64)
    return matrix.scatter_add_(2, local, weights)


def resize_crop_batch(images: list, resize_size: int, crop: int) -> torch.Tensor:
    """uint8 (3,H,W) images of any sizes (CHW views of HWC memory too) -> uint8 (n,3,crop,crop).

    Equal, within one grey level, to torchvision's Resize(resize_size) + CenterCrop(crop) on each.
    """
    if not images:
        raise ValueError("no images to resize")
    device = images[0].device
    plans = []
    for image in images:
        height, width = image.shape[-2:]
        short, long = min(height, width), max(height, width)
        new_long = int(resize_size * long / short)
        new_height, new_width = (resize_size, new_long) if height <= width else (new_long, resize_size)
        y_box, x_box = _axis_box(height, new_height, crop), _axis_box(width, new_width, crop)
        y_window, x_window = _window(height, *y_box, crop), _window(width, *x_box, crop)
        plans.append((height, width, y_box, x_box, y_window, x_window))
    groups = defaultdict(list)
    for index, plan in enumerate(plans):
        padded = tuple(-(-plan[axis][1] // WINDOW_ALIGN) * WINDOW_ALIGN for axis in (4, 5))
        groups[padded].append(index)
    # fp16 on the GPU's tensor cores; the CPU has no fast fp16 product
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    out = torch.empty(len(images), 3, crop, crop, dtype=torch.uint8, device=device)
    for (window_height, window_width), members in groups.items():
        windows = torch.zeros(len(members), 3, window_height, window_width, dtype=dtype, device=device)
        for slot, index in enumerate(members):
            (y0, rows), (x0, cols) = plans[index][4], plans[index][5]
            windows[slot, :, :rows, :cols].copy_(images[index][:, y0:y0 + rows, x0:x0 + cols])
        chosen = [plans[i] for i in members]
        rows_matrix = _taps([p[0] for p in chosen], [p[2][0] for p in chosen], [p[2][1] for p in chosen],
                            [p[4][0] for p in chosen], window_height, crop, device)
        cols_matrix = _taps([p[1] for p in chosen], [p[3][0] for p in chosen], [p[3][1] for p in chosen],
                            [p[5][0] for p in chosen], window_width, crop, device)
        resized = torch.matmul(rows_matrix.to(dtype)[:, None], windows)                            # (m,3,crop,W)
        resized = torch.matmul(resized, cols_matrix.to(dtype).transpose(1, 2)[:, None])            # (m,3,crop,crop)
        out[torch.tensor(members, device=device)] = resized.float().round_().clamp_(0, 255).to(torch.uint8)
    return out
