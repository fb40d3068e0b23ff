"""Resize-then-centre-crop of many images of different sizes at once: batched matrix products, or two kernels.

The weights' eval transform (resize the short side with antialiased bilinear or bicubic, centre
crop) keeps one box of each source image and resamples it to crop x crop pixels. Antialiased
resampling is separable: out = Wy @ image @ Wx^T, where row j of Wy holds the filter's taps of
output row j (PIL's coefficients: triangle or cubic filter, support scaled with the downscale
factor, normalized per output pixel; bicubic's negative lobes overshoot, and the first pass is
clamped to 0..255 as PIL's is). So images of any sizes are resized together: each image's window
(the box plus the filter's reach) is copied into a zero-padded batch, per-image Wy and Wx are
built on the device, and two batched products give every crop at once. Images are grouped by
window size so that one large image does not pad the whole batch. fp16 operands (exact for
0..255, taps to 11 bits) and fp32 accumulation stay within one grey level of PIL's bilinear,
which rounds between its two passes (bicubic: docs/data-pipeline.md).

On CUDA with Triton two kernels do the same sums instead (resize_crop_kernels): one filters
each image's columns of interest down to crop rows, reading the decoded images where they lie
(a table of their addresses, strides, boxes and scales), the other filters those rows to crop
columns. Each computes its outputs' taps itself, with _taps's float64 arithmetic, so the host
spends nothing per image size. The matrix form spends Python time per image (a window copy
each, a handful of launches per size group); the kernels take one launch each per batch
whatever the sizes. On an H200 one thread
resized varied ImageNet-like batches at 73k images/s with the kernels and 17.7k with the matrix
form (docs/results-h200.md).
"""

import functools
import math

import torch

from .device import is_out_of_memory, on_device
from .preprocess import RESIZE_FILTERS, Preprocess, crop_box

try:
    import triton
    import triton.language as tl
except ImportError:          # CPU-only builds of PyTorch ship without Triton
    triton = None

WINDOW_ALIGN = 64      # windows are padded to multiples of this; images share a group per padded size


BICUBIC_A = -0.5      # PIL's cubic filter


def _filter(distance: torch.Tensor, interpolation: str) -> torch.Tensor:
    """PIL's filter at each distance (in filter units) from an output pixel's centre."""
    distance = distance.abs()
    if interpolation == "bilinear":
        return (1 - distance).clamp(min=0)
    near = ((BICUBIC_A + 2) * distance - (BICUBIC_A + 3)) * distance * distance + 1
    far = (((distance - 5) * distance + 8) * distance - 4) * BICUBIC_A
    return torch.where(distance < 1, near, torch.where(distance < 2, far, torch.zeros_like(distance)))


def _support(box_start: float, box_end: float, crop: int, interpolation: str) -> float:
    """The filter's reach in source pixels: widened by the downscale factor, as PIL's antialiasing does."""
    return max((box_end - box_start) / crop, 1.0) * RESIZE_FILTERS[interpolation]


def _window(size: int, box_start: float, box_end: float, crop: int, interpolation: str) -> tuple:
    """(first source pixel, pixel count) any output tap reads; one spare pixel each side."""
    scale = (box_end - box_start) / crop
    support = _support(box_start, box_end, crop, interpolation)
    first = max(math.floor(box_start + 0.5 * scale - support + 0.5) - 1, 0)
    last = min(math.floor(box_start + (crop - 0.5) * scale + support + 0.5) + 1, size)
    return first, last - first


def _taps(sizes, box_starts, box_ends, window_starts, padded, crop: int, interpolation: str) -> tuple:
    """The nonzero taps of each image's resampling matrix along one axis: (weights, column in its
    window), each (distinct, crop, taps), once per distinct (size, box, window), and the index of
    each image's taps in them. PIL's antialiased coefficients, computed on the CPU in
    float64 so that building the matrices on the device needs no synchronization; ImageNet's
    sizes repeat, and computing them per image cost 37 ms of a worker's time per batch of 256."""
    distinct = {}
    index = [distinct.setdefault(key, len(distinct))
             for key in zip(sizes, box_starts, box_ends, window_starts, padded)]
    sizes, box_starts, box_ends, window_starts, padded = zip(*distinct)
    f64 = dict(dtype=torch.float64)
    sizes, box_starts = torch.tensor(sizes, **f64), torch.tensor(box_starts, **f64)
    box_ends, window_starts = torch.tensor(box_ends, **f64), torch.tensor(window_starts, **f64)
    scale = (box_ends - box_starts) / crop
    widening = scale.clamp(min=1.0)
    support = widening * RESIZE_FILTERS[interpolation]
    centers = box_starts[:, None] + (torch.arange(crop, **f64) + 0.5) * scale[:, None]          # (n, crop)
    first = torch.floor(centers - support[:, None] + 0.5).clamp(min=0)
    end = torch.minimum(torch.floor(centers + support[:, None] + 0.5), sizes[:, None])
    count = int(math.ceil(2 * support.max().item())) + 2
    x = first[..., None] + torch.arange(count, **f64)                                          # (n, crop, count)
    weights = _filter((x - centers[..., None] + 0.5) / widening[:, None, None], interpolation)
    weights = torch.where(x < end[..., None], weights, torch.zeros_like(weights))
    weights = weights / weights.sum(dim=-1, keepdim=True)
    limit = torch.tensor(padded, **f64)[:, None, None] - 1
    local = torch.minimum((x - window_starts[:, None, None]).clamp(min=0), limit)
    return weights.float(), local.long(), torch.tensor(index)


def _plans(images: list, prep: Preprocess) -> list:
    """Per image: (height, width, y box, x box, y window, x window, window padded to WINDOW_ALIGN)."""
    return [_plan(*image.shape[-2:], prep) for image in images]


@functools.lru_cache(maxsize=65536)
def _plan(height: int, width: int, prep: Preprocess) -> tuple:
    """One size's plan, kept: ImageNet's sizes repeat. On the development machine's CPU, planning
    each of 256 varied images took 1.7-3.1 ms, and the kept plans 0.17 ms."""
    crop = prep.crop_size
    left, top, right, bottom = crop_box(height, width, prep)
    y_box, x_box = (top, bottom), (left, right)
    y_window = _window(height, *y_box, crop, prep.interpolation)
    x_window = _window(width, *x_box, crop, prep.interpolation)
    padded = tuple(-(-window[1] // WINDOW_ALIGN) * WINDOW_ALIGN for window in (y_window, x_window))
    return height, width, y_box, x_box, y_window, x_window, padded


def resize_crop_batch(images: list, prep: Preprocess) -> torch.Tensor:
    """uint8 (3,H,W) images of any sizes (CHW views of HWC memory too) -> uint8 (n,3,crop,crop).

    Equal, within one grey level, to the weights' Resize + CenterCrop on each (the kept box is
    preprocess.crop_box, as on the cpu path). CUDA images go through resize_crop_kernels where
    they run (kernels_unavailable), others through batched matrix products (resize_crop_matmul).
    Nothing here waits for the device: the taps go over as one copy per axis.
    """
    if not images:
        raise ValueError("no images to resize")
    if images[0].is_cuda and not kernels_unavailable(images[0].device):
        return resize_crop_kernels(images, prep)
    return resize_crop_matmul(images, prep)


_KERNEL_CHECKS = {}     # device -> kernels_unavailable's answer, once per process


def kernels_unavailable(device: torch.device) -> str:
    """'' when the resize kernels run on `device` and agree with the matrix form, else why not.

    Tried once per process on a small image: Triton installed is not Triton working (it compiles
    with the machine's C compiler and driver), and the default gpu decode path must not fail
    where the matrix form would run.
    """
    device = torch.device(device)
    if device not in _KERNEL_CHECKS:
        _KERNEL_CHECKS[device] = _try_kernels(device)
    return _KERNEL_CHECKS[device]


def _try_kernels(device: torch.device) -> str:
    if triton is None:
        return "triton is not installed"
    image = (torch.arange(3 * 40 * 50) % 251).to(torch.uint8).view(3, 40, 50).to(device)
    prep = Preprocess(resize_size=32, crop_size=28)
    try:
        crops = resize_crop_kernels([image], prep)
    except Exception as error:     # Triton fails in many ways where it cannot compile or launch
        if is_out_of_memory(error):
            raise
        return f"the resize kernels do not run on {device} ({(str(error) or type(error).__name__).splitlines()[0]})"
    # the reference on the CPU: on the device it would start cuBLAS in every loader worker for this alone
    if (crops.cpu().int() - resize_crop_matmul([image.cpu()], prep).int()).abs().max().item() > 1:
        return f"the resize kernels disagree with the matrix form on {device}"
    return ""


def resize_form(device: torch.device) -> str:
    """How resize_crop_batch resizes CUDA images on `device`, for the record."""
    reason = kernels_unavailable(device)
    return f"matrix form ({reason})" if reason else "kernels"


def resize_crop_matmul(images: list, prep: Preprocess) -> torch.Tensor:
    """resize_crop_batch as batched products of each image's window with its two tap matrices."""
    device, crop = images[0].device, prep.crop_size
    plans = _plans(images, prep)
    order = sorted(range(len(images)), key=lambda i: plans[i][6])     # one group per padded window, contiguous
    chosen = [plans[i] for i in order]
    row_weights, row_columns, row_taps = _taps([p[0] for p in chosen], [p[2][0] for p in chosen],
                                               [p[2][1] for p in chosen], [p[4][0] for p in chosen],
                                               [p[6][0] for p in chosen], crop, prep.interpolation)
    col_weights, col_columns, col_taps = _taps([p[1] for p in chosen], [p[3][0] for p in chosen],
                                               [p[3][1] for p in chosen], [p[5][0] for p in chosen],
                                               [p[6][1] for p in chosen], crop, prep.interpolation)
    row_weights, row_columns, col_weights, col_columns = (
        t.to(device, non_blocking=True) for t in (row_weights[row_taps], row_columns[row_taps],
                                                   col_weights[col_taps], col_columns[col_taps]))
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
        resized = torch.matmul(rows_matrix.to(dtype)[:, None], windows).clamp_(0, 255)          # (m,3,crop,W)
        resized = torch.matmul(resized, cols_matrix.to(dtype).transpose(1, 2)[:, None])         # (m,3,crop,crop)
        resized_in_order[start:stop] = resized.float().round_().clamp_(0, 255)
        start = stop
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return resized_in_order[inverse.to(device, non_blocking=True)]


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on its way to the device without the host waiting (pinned first)."""
    return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor


def resize_crop_kernels(images: list, prep: Preprocess, block_y: int = 16, block_x: int = 64) -> torch.Tensor:
    """resize_crop_batch in two Triton kernels over every image at once, read in place.

    Rows first: for each image, channel and output row, the taps' source rows summed over the
    x window (fp32, clamped to 0..255, into one flat buffer of every image's crop x window rows);
    then columns: each output pixel sums its taps along its row of that buffer, rounds and clamps
    to uint8. The kernels compute each output's taps themselves, in float64 as _taps does, from
    the image's box and scale: the host builds one table row per image and nothing per size.
    """
    device, crop, count = images[0].device, prep.crop_size, len(images)
    plans = _plans(images, prep)
    x_widths = [p[5][1] for p in plans]
    offsets = [0]
    for width in x_widths[:-1]:
        offsets.append(offsets[-1] + 3 * crop * width)
    whole = [[image.data_ptr(), *image.stride()[-3:], x_start, x_width, offset, height, width]
             for image, (height, width, _, _, _, (x_start, x_width), _), offset in zip(images, plans, offsets)]
    boxes = [[y_box[0], (y_box[1] - y_box[0]) / crop, x_box[0], (x_box[1] - x_box[0]) / crop]
             for _, _, y_box, x_box, _, _, _ in plans]
    table = torch.cat([torch.tensor(whole, dtype=torch.int64),
                       torch.tensor(boxes, dtype=torch.float64).view(torch.int64)], dim=1)
    table = _to_device(table, device)
    rows = torch.empty(offsets[-1] + 3 * crop * x_widths[-1], dtype=torch.float32, device=device)
    out = torch.empty(count, 3, crop, crop, dtype=torch.uint8, device=device)
    y_blocks = triton.cdiv(crop, block_y)
    bicubic = prep.interpolation == "bicubic"
    with on_device(device):
        _resize_rows_kernel[(count, 3 * y_blocks, triton.cdiv(max(x_widths), block_x))](
            table, rows, crop, BICUBIC=bicubic, BLOCK_Y=block_y, BLOCK_X=block_x)
        _resize_cols_kernel[(count, 3 * y_blocks, triton.cdiv(crop, block_x))](
            table, rows, out, crop, BICUBIC=bicubic, BLOCK_Y=block_y, BLOCK_X=block_x)
    return out


if triton is not None:
    # table columns: image address, channel/row/column strides (elements), x window start and
    # width, offset of the image's rows in the flat buffer, height, width; then the bits of four
    # float64: y box start, y scale, x box start, x scale (source pixels per output pixel)
    TABLE_WIDTH = tl.constexpr(13)

    @triton.jit
    def _pil_filter(distance, BICUBIC: tl.constexpr):
        """_filter: PIL's triangle or cubic (a = -0.5) filter, float64."""
        distance = tl.abs(distance)
        if BICUBIC:
            near = ((1.5 * distance - 2.5) * distance) * distance + 1.0
            far = (((distance - 5.0) * distance + 8.0) * distance - 4.0) * -0.5
            return tl.where(distance < 1.0, near, tl.where(distance < 2.0, far, 0.0))
        return tl.maximum(1.0 - distance, 0.0)

    @triton.jit
    def _tap_weight(x, centers, end, widening, BICUBIC: tl.constexpr):
        """Source pixel x's weight in the outputs centred at `centers`, before normalizing; 0 at and past `end`."""
        return tl.where(x < end, _pil_filter((x - centers + 0.5) / widening, BICUBIC), 0.0)

    @triton.jit
    def _taps_of(outputs, box_start, scale, size, BICUBIC: tl.constexpr):
        """_taps for these output positions of one image's axis: their centres, the first source
        pixel, the end, the widening and the taps' count. The kernels sum each output's weights as
        they accumulate and divide once at the end, as _taps normalizes."""
        centers = box_start + (outputs.to(tl.float64) + 0.5) * scale
        widening = tl.maximum(scale, 1.0)
        support = widening * (2.0 if BICUBIC else 1.0)
        first = tl.maximum(tl.floor(centers - support + 0.5), 0.0)
        end = tl.minimum(tl.floor(centers + support + 0.5), size.to(tl.float64))
        count = tl.ceil(2.0 * support).to(tl.int32) + 2
        return centers, first, end, widening, count

    @triton.jit
    def _resize_rows_kernel(table, rows, crop, BICUBIC: tl.constexpr, BLOCK_Y: tl.constexpr, BLOCK_X: tl.constexpr):
        image, program_y = tl.program_id(0), tl.program_id(1)
        y_blocks = tl.cdiv(crop, BLOCK_Y)
        channel, ys = program_y // y_blocks, (program_y % y_blocks) * BLOCK_Y + tl.arange(0, BLOCK_Y)
        entry = table + image * TABLE_WIDTH
        base = tl.load(entry).to(tl.pointer_type(tl.uint8))
        channel_stride, row_stride, col_stride = tl.load(entry + 1), tl.load(entry + 2), tl.load(entry + 3)
        x_start, x_width, offset, height = tl.load(entry + 4), tl.load(entry + 5), tl.load(entry + 6), tl.load(entry + 7)
        if tl.program_id(2) * BLOCK_X >= x_width:   # the grid spans the batch's widest window, not this image's
            return
        box_start, scale = tl.load(entry + 9).to(tl.float64, bitcast=True), tl.load(entry + 10).to(tl.float64, bitcast=True)
        xs = tl.program_id(2) * BLOCK_X + tl.arange(0, BLOCK_X)
        y_ok, x_ok = ys < crop, xs < x_width
        centers, first, end, widening, count = _taps_of(ys, box_start, scale, height, BICUBIC)
        source = base + channel * channel_stride + (x_start + xs)[None, :] * col_stride
        acc = tl.zeros((BLOCK_Y, BLOCK_X), dtype=tl.float32)
        total = tl.zeros_like(centers)
        for tap in range(count):
            x = first + tap
            weight = _tap_weight(x, centers, end, widening, BICUBIC)
            total += weight
            source_row = tl.minimum(x.to(tl.int64), height - 1)
            pixels = tl.load(source + source_row[:, None] * row_stride, mask=y_ok[:, None] & x_ok[None, :], other=0)
            acc += weight.to(tl.float32)[:, None] * pixels.to(tl.float32)
        acc = acc / total.to(tl.float32)[:, None]
        out = rows + offset + (channel * crop + ys[:, None]).to(tl.int64) * x_width + xs[None, :]
        tl.store(out, tl.minimum(tl.maximum(acc, 0.0), 255.0), mask=y_ok[:, None] & x_ok[None, :])

    @triton.jit
    def _resize_cols_kernel(table, rows, out, crop, BICUBIC: tl.constexpr, BLOCK_Y: tl.constexpr,
                            BLOCK_X: tl.constexpr):
        image, program_y = tl.program_id(0), tl.program_id(1)
        y_blocks = tl.cdiv(crop, BLOCK_Y)
        channel, ys = program_y // y_blocks, (program_y % y_blocks) * BLOCK_Y + tl.arange(0, BLOCK_Y)
        entry = table + image * TABLE_WIDTH
        x_start, x_width, offset, width = tl.load(entry + 4), tl.load(entry + 5), tl.load(entry + 6), tl.load(entry + 8)
        box_start, scale = tl.load(entry + 11).to(tl.float64, bitcast=True), tl.load(entry + 12).to(tl.float64, bitcast=True)
        xs = tl.program_id(2) * BLOCK_X + tl.arange(0, BLOCK_X)
        y_ok, x_ok = ys < crop, xs < crop
        centers, first, end, widening, count = _taps_of(xs, box_start, scale, width, BICUBIC)
        row_start = rows + offset + (channel * crop + ys[:, None]).to(tl.int64) * x_width
        acc = tl.zeros((BLOCK_Y, BLOCK_X), dtype=tl.float32)
        total = tl.zeros_like(centers)
        for tap in range(count):
            x = first + tap
            weight = _tap_weight(x, centers, end, widening, BICUBIC)
            total += weight
            column = tl.minimum(tl.maximum(x.to(tl.int64) - x_start, 0), x_width - 1)      # in the x window
            values = tl.load(row_start + column[None, :], mask=y_ok[:, None] & x_ok[None, :], other=0.0)
            acc += weight.to(tl.float32)[None, :] * values
        acc = acc / total.to(tl.float32)[None, :]
        grey = tl.minimum(tl.maximum(tl.floor(acc + 0.5), 0.0), 255.0)
        target = out + ((image * 3 + channel) * crop + ys[:, None]).to(tl.int64) * crop + xs[None, :]
        tl.store(target, grey.to(tl.uint8), mask=y_ok[:, None] & x_ok[None, :])
