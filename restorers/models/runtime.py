"""Device and precision: where networks run and in which number format.

The fast path is channels_last memory format plus bfloat16 autocast on CPUs that support it (about 3x
faster than fp32 for these conv nets), and float16 autocast on CUDA. ``"fp32"`` keeps full precision.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from typing import Iterator, Literal

import torch

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
DEVICE_ENV = "RESTORERS_DEVICE"
PRECISION_ENV = "RESTORERS_PRECISION"
MALLOC_TUNING_ENV = "RESTORERS_MALLOC_TUNING"
# glibc mallopt parameters and the values set. Freed blocks above the mmap threshold go back to the OS at
# once, and the next call faults every page in again: realesr-general-x4v3 in fp32 took ~400k minor page
# faults per 256x256 call (and 0.84 s or 1.4 s per call, depending on glibc's adaptive threshold).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts on 64-bit; bigger blocks are still mmapped
TRIM_THRESHOLD = 512 << 20  # free memory kept at the top of the heap rather than returned


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for the next call instead of returning and re-faulting it.

    Called when the engine makes its first restorer; once per process. True when the settings took
    effect; False (and harmless) off glibc Linux or with $RESTORERS_MALLOC_TUNING=0. The cost: memory
    freed after a request stays with the process (up to TRIM_THRESHOLD more than it would keep otherwise).
    """
    if os.environ.get(MALLOC_TUNING_ENV, "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no libc.so.6), or no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_freed_memory() -> bool:
    """Hand the memory that requests have freed back to the operating system (glibc ``malloc_trim``).

    The counterpart of keep_freed_memory for idle moments: after a request that failed or was refused,
    the memory it had allocated (a decoded image, a checkpoint's tensors) is free inside the process but
    still counted in its RSS, once per malloc arena (each worker thread may use its own), and an idle
    server grew by hundreds of MB per kind of failure. True when memory was returned; False off glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, else $RESTORERS_DEVICE, else CUDA when present, else CPU."""
    choice = device or os.environ.get(DEVICE_ENV) or ("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(choice)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but no CUDA device is available; use device='cpu'")
    return resolved


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when this CPU has native bfloat16 dot products (AVX512-BF16 or AMX), where autocast pays off.

    oneDNN's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) also says yes on plain AVX-512
    CPUs, where it emulates bf16: on such a CPU (Xeon with AVX512-VNNI but no AVX512-BF16, 2 cores) a
    bf16 3x3 conv ran at a quarter of the fp32 rate and every network's "fast path" was 1.5-2x slower
    than fp32 (docs/benchmarks.md, "Network speed on CPU"). So the instruction sets are asked for directly.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(check is None for check in checks):  # an older torch: read the CPU flags instead
        return _cpu_flags_have_bf16()
    return any(bool(check()) for check in checks if check is not None)


def _cpu_flags_have_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(device: torch.device, precision: str | None = None) -> str:
    """Turn 'auto' (or $RESTORERS_PRECISION) into the concrete precision used on ``device``."""
    precision = precision or os.environ.get(PRECISION_ENV, "auto")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_supports_bf16() else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is for CUDA; on CPU use 'bf16' (or 'auto')")
    return precision


@contextlib.contextmanager
def inference(device: torch.device, precision: str) -> Iterator[None]:
    """inference_mode plus the autocast that ``precision`` asks for."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=dtype):
                yield


def describe(device: torch.device, precision: str) -> str:
    """A one-line description for the UI, e.g. 'cpu (2 threads), bf16 autocast + channels_last'."""
    where = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    how = "fp32" if precision == "fp32" else f"{precision} autocast"
    return f"{where}, {how} + channels_last"
