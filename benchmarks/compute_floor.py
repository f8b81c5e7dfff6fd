"""This machine's arithmetic rate, and the compute floor of a piece of work: its FLOPs at that rate.

The rate is measured, not looked up: the best of a few large square matmuls in each number format (the
most a framework gets out of these cores), plus a 3x3 64->64 convolution for reference (what conv nets can
hope for). FLOPs are counted with torch.utils.flop_counter (2 per multiply-add; convolutions and matmuls).
"""
from __future__ import annotations

import time

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# The precision a path runs in -> the rate its floor is computed at (fp16 autocast exists on CUDA only).
PATH_DTYPE = {"fp32": "fp32", "channels_last": "fp32", "bf16": "bf16", "fp16": "bf16"}


def _best_seconds(fn, repeats: int) -> float:
    fn()  # first call: allocation and kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_rate(dtype: str, size: int = 4096, repeats: int = 3) -> float:
    """FLOP/s of a size x size matmul in ``dtype`` ('fp32' or 'bf16'), best of ``repeats``."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(DTYPES[dtype])
    b = torch.randn(size, size, generator=generator).to(DTYPES[dtype])
    with torch.inference_mode():
        seconds = _best_seconds(lambda: torch.mm(a, b), repeats)
    return 2 * size**3 / seconds


def conv_rate(dtype: str, side: int = 256, repeats: int = 3) -> float:
    """FLOP/s of a 3x3 64->64 convolution on a side x side channels_last input, under the engine's autocast."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 64, side, side).contiguous(memory_format=torch.channels_last)
    flops = 2 * 64 * 64 * 9 * side * side

    def run() -> None:
        if dtype == "fp32":
            conv(x)
        else:
            with torch.autocast("cpu", dtype=DTYPES[dtype]):
                conv(x)

    with torch.inference_mode():
        return flops / _best_seconds(run, repeats)


def machine_rates(quick: bool = False) -> dict[str, float]:
    """FLOP/s by number format: matmul (the floor's rate) and 3x3 conv (for reference)."""
    size, side, repeats = (1024, 64, 2) if quick else (4096, 256, 3)
    started = time.perf_counter()
    rates = {f"matmul_{d}": matmul_rate(d, size, repeats) for d in DTYPES}
    rates.update({f"conv3x3_{d}": conv_rate(d, side, repeats) for d in DTYPES})
    rates["seconds"] = time.perf_counter() - started
    rates["matmul_size"] = size
    return rates


def best_rates(*samples: dict[str, float]) -> dict[str, float]:
    """The highest rate seen for each format over several measurements (the machine's, less its load)."""
    return {key: max(s[key] for s in samples if key in s) for key in samples[0] if key.startswith(("matmul", "conv"))}


def floor_seconds(flops_by_dtype: dict[str, float], rates: dict[str, float], best_format: bool = False) -> float:
    """Seconds the FLOPs need at the matmul rate of their number format (or of the fastest one)."""
    fastest = max(rates[f"matmul_{d}"] for d in DTYPES)
    return sum(flops / (fastest if best_format else rates[f"matmul_{d}"]) for d, flops in flops_by_dtype.items())
