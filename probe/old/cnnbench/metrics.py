"""Every derived figure, each computed by one function whose docstring gives its formula and unit.

The scripts, the result records and the reports all call these; docs/outputs.md lists the keys
they fill.
"""

import statistics


def throughput(images: int, seconds: float):
    """images / seconds, in images/s; None when no time was measured."""
    return images / seconds if seconds else None


def images_per_joule(images: int, joules: float):
    """images / joules of the GPU's energy over the same stretch; None when no energy was measured."""
    return images / joules if joules else None


def accuracy(hits: int, images: int):
    """hits / images, a fraction in [0, 1] counted per image (never a mean of batch means); None
    when no image was scored."""
    return hits / images if images else None


def share(part: float, whole: float):
    """part / whole, a fraction (e.g. time waiting for data / end-to-end time); None when whole is 0."""
    return part / whole if whole else None


def per_batch_ms(seconds_by_stage: dict, batches: int) -> dict:
    """Each stage's summed seconds x 1000 / batches: milliseconds per batch, by stage; {} without batches."""
    return {stage: 1e3 * seconds / batches for stage, seconds in seconds_by_stage.items()} if batches else {}


def loader_capacity(workers: int, images: int, worker_busy_s: float):
    """workers x images / the workers' summed busy seconds, in images/s: the most the loader's
    workers could deliver at their measured pace per batch; None when they were not timed."""
    return workers * images / worker_busy_s if worker_busy_s else None


def percentile(sorted_values: list, q: float) -> float:
    """Linear-interpolated q-th percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def latency_stats(times_ms: list) -> dict:
    """mean, population std, min, max, p50, p90, p99 of per-batch times, in milliseconds."""
    ordered = sorted(times_ms)
    return {
        "mean": statistics.fmean(ordered) if ordered else float("nan"),
        "std": statistics.pstdev(ordered) if len(ordered) > 1 else 0.0,
        "min": ordered[0] if ordered else float("nan"),
        "max": ordered[-1] if ordered else float("nan"),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
    }


def rate(amount: float, seconds: float):
    """amount / seconds: FLOP/s from FLOP, bytes/s from bytes, watts from joules; None when no time
    was measured."""
    return amount / seconds if seconds else None


def arithmetic_intensity(flop: int, bytes_moved: int) -> float:
    """flop / bytes, in FLOP/byte; 0 for a layer that moves no bytes."""
    return flop / bytes_moved if bytes_moved else 0.0


def roof(intensity: float, peak_flops: float, peak_bytes_per_s: float) -> float:
    """Attainable FLOP/s at this intensity: min(peak FLOP/s, intensity x bandwidth)."""
    return min(peak_flops, intensity * peak_bytes_per_s)


def ridge(peak_flops: float, peak_bytes_per_s: float) -> float:
    """peak FLOP/s / bandwidth, in FLOP/byte: the intensity where the two roofs meet."""
    return peak_flops / peak_bytes_per_s


def layer_coverage(unattributed_us: float, forward_us: float):
    """1 - unattributed / forward: the share of the profiled forward that leaf layers account for."""
    return 1 - unattributed_us / forward_us if forward_us else None
