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

import torch

from .preprocess import Preprocess, crop_box

WINDOW_ALIGN = 64      # windows are padded to multiples of this; images share a group per padded size


def _support(box_start: float, box_end: float, crop: int) -> float:
    return max((box_end - box_start) / crop, 1.0)      # bilinear support 1, widened when downscaling


def _window(size: int, box_start: float, box_end: float, crop: int) -> tuple:
    """(first source pixel, pixel count) any output tap reads; one spare pixel each side."""
    scale = (box_end - box_start) / crop
    support = _support(box_start, box_end, crop)
    first = max(math.floor(box_start + 0.5 * scale - support + 0.5) - 1, 0)
    last = min(math.floor(box_start + (crop - 0.5) * scale + support + 0.5) + 1, size)
    return first, last - first


def _taps(sizes, box_starts, box_ends, window_starts, padded, crop: int) -> tuple:
    """Per image, the nonzero taps of its resampling matrix: (weights, column in its window), each
    (n, crop, taps). PIL's antialiased bilinear coefficients, computed on the CPU in float64 so that
    building the matrices on the device needs no synchronization."""
    f64 = dict(dtype=torch.float64)
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
    limit = torch.tensor(padded, **f64)[:, None, None] - 1
    local = torch.minimum((x - window_starts[:, None, None]).clamp(min=0), limit)
    return weights.float(), local.long()


def resize_crop_batch(images: list, prep: Preprocess) -> torch.Tensor:
    """uint8 (3,H,W) images of any sizes (CHW views of HWC memory too) -> uint8 (n,3,crop,crop).

    Equal, within one grey level, to the weights' Resize + CenterCrop on each (the kept box is
    preprocess.crop_box, as on the cpu path).
    Nothing here waits for the device: the taps go over as one copy per axis.
    """
    if not images:
        raise ValueError("no images to resize")
    device, crop = images[0].device, prep.crop_size
    plans = []
    for image in images:
        height, width = image.shape[-2:]
        left, top, right, bottom = crop_box(height, width, prep)
        y_box, x_box = (top, bottom), (left, right)
        y_window, x_window = _window(height, *y_box, crop), _window(width, *x_box, crop)
        padded = tuple(-(-window[1] // WINDOW_ALIGN) * WINDOW_ALIGN for window in (y_window, x_window))
        plans.append((height, width, y_box, x_box, y_window, x_window, padded))
    order = sorted(range(len(images)), key=lambda i: plans[i][6])     # one group per padded window, contiguous
    chosen = [plans[i] for i in order]
    row_weights, row_columns = _taps([p[0] for p in chosen], [p[2][0] for p in chosen], [p[2][1] for p in chosen],
                                     [p[4][0] for p in chosen], [p[6][0] for p in chosen], crop)
    col_weights, col_columns = _taps([p[1] for p in chosen], [p[3][0] for p in chosen], [p[3][1] for p in chosen],
                                     [p[5][0] for p in chosen], [p[6][1] for p in chosen], crop)
    row_weights, row_columns, col_weights, col_columns = (
        t.to(device, non_blocking=True) for t in (row_weights, row_columns, col_weights, col_columns))
    # fp16 on the GPU's tensor cores; the CPU has no fast fp16 product
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    resized_in_order = torch.empty(len(images), 3, crop, crop, dtype=torch.uint8, device=device)
    start = 0
    while start < len(order):
        window_height, window_width = chosen[start][6]
        stop = start
        while stop < len(order) and chosen[stop][6] == (window_height, window_width):
            stop += 1
        windows = torch.zeros(stop - start, 3, window_height, window_width, dtype=dtype, device=device)
        for slot, index in enumerate(order[start:stop]):
            (y0, rows), (x0, cols) = plans[index][4], plans[index][5]
            windows[slot, :, :rows, :cols].copy_(images[index][:, y0:y0 + rows, x0:x0 + cols])
        rows_matrix = torch.zeros(stop - start, crop, window_height, device=device).scatter_add_(
            2, row_columns[start:stop], row_weights[start:stop])
        cols_matrix = torch.zeros(stop - start, crop, window_width, device=device).scatter_add_(
            2, col_columns[start:stop], col_weights[start:stop])
        resized = torch.matmul(rows_matrix.to(dtype)[:, None], windows)                         # (m,3,crop,W)
        resized = torch.matmul(resized, cols_matrix.to(dtype).transpose(1, 2)[:, None])         # (m,3,crop,crop)
        resized_in_order[start:stop] = resized.float().round_().clamp_(0, 255)
        start = stop
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return resized_in_order[inverse.to(device, non_blocking=True)]
