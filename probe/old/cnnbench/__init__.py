"""Shared core of the CNN inference profiling scripts under alexnet/.

Model and weights loading, ImageNet data, timing, device and environment facts, execution
modes, per-layer analysis and result writing live here, so that each script stays a thin
front door: parse arguments, call into this package, return an exit code.
"""
