"""Every limit in one place: pixels in and out, faces, frames, seconds, file sizes.

Each limit is a setting read from the environment when it is asked for (so tests and a dedicated GPU
host can raise it), with a default that fits a free 2-vCPU / 16 GB Hugging Face Space. The app, the
Python API and the CLI all go through these functions, so a limit gives the same message everywhere.
Add new limits here (a name, a default, one line saying what it bounds) rather than in the modules
that enforce them.
"""
from __future__ import annotations

import math
import os


class LimitError(ValueError):
    """A request asks for more than a configured limit allows."""


def setting(name: str, default: float) -> float:
    """The number in ``$name``, or ``default`` when it is unset or empty; a bad value is a clear error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise LimitError(f"${name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise LimitError(f"${name} must be a finite number >= 0, got {raw!r}")
    return value


def int_setting(name: str, default: int) -> int:
    return int(setting(name, default))


# Input images: pixels of one decoded image.
MAX_PIXELS_ENV = "RESTORERS_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 4096 * 4096


def max_pixels() -> int:
    return int_setting(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)
