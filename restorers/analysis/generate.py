"""StyleGAN2-ADA faces: generators from the registry or from a local NVIDIA pickle, seeds -> faces,
and latent walks for the interpolation animation."""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .animate import path_length, render_latent_walk
from ..models.networks import get_network, prepare
from ..models.registry import ModelSpec, get_spec
from ..models.runtime import pick_device, resolve_precision
from ..guards.validate import ParameterError, check_flag, check_int, check_number, check_optional_int

# "space-method" names offered to users, as (latent space, interpolation method).
INTERPOLATIONS: dict[str, tuple[str, str]] = {
    "z-linear": ("z", "linear"),
    "z-slerp": ("z", "slerp"),
    "w-linear": ("w", "linear"),
    "w-cubic": ("w", "cubic"),
}
MAX_FRAMES = int(os.environ.get("RESTORERS_MAX_FRAMES", 600))
# A generator given as a file: an NVIDIA network pickle, or a torch.save'd {'config', 'state_dict'}. Any case
# (x.PKL from a phone or a Windows disk is the same file).
GENERATOR_SUFFIXES = (".pkl", ".pt", ".pth")
MAX_SEEDS = 32


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' or '1-4' or '7, 10-12' -> seeds (non-negative ints below 2**32).

    Ranges are counted before they are expanded, so '1-100000000' is refused in microseconds rather
    than built into a list of a hundred million ints first.
    """
    if not isinstance(text, (str, int)) or isinstance(text, bool):
        raise ValueError(f"seeds must be text like '1,2,3' or '1-4', got a {type(text).__name__}")
    text = str(text)
    if len(text) > 64 * MAX_SEEDS:
        raise ValueError(f"the seeds text is {len(text)} characters long; give at most {MAX_SEEDS} seeds")
    ranges: list[tuple[int, int]] = []
    count = 0
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                dash = part.index("-", 1)
                low, high = int(part[:dash]), int(part[dash + 1 :])
            else:
                low = high = int(part)
        except ValueError:
            raise ValueError(f"seeds must be integers like '1,2,3' or '1-4', got {part[:40]!r}") from None
        if not (0 <= low < 2**32 and 0 <= high < 2**32):
            raise ValueError("seeds must be between 0 and 4294967295")
        if high < low:
            raise ValueError(f"the seed range {low}-{high} is empty; write it low-high, e.g. '{high}-{low}'")
        count += high - low + 1
        if count > MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS} seeds, got {count} or more")
        ranges.append((low, high))
    if not ranges:
        raise ValueError("give at least one seed, e.g. '1,2,3'")
    return [seed for low, high in ranges for seed in range(low, high + 1)]


@functools.lru_cache(maxsize=2)
def _pickle_generator(path: str, mtime: float, device: str) -> torch.nn.Module:
    from ..models.stylegan_pickle import load_stylegan2_ada_pickle

    from ..models.checkpoint import non_finite_keys

    del mtime  # part of the cache key only: an edited file is loaded again
    generator = load_stylegan2_ada_pickle(path)
    broken = non_finite_keys(generator.state_dict())
    if broken:  # NaN weights would render black frames that look like a result (a failed load is not cached)
        raise ValueError(f"{Path(path).name}: {len(broken)} tensor(s) of the generator hold NaN or infinite values; "
                         "its faces would not be finite, so it is refused")
    return prepare(generator.eval().requires_grad_(False), torch.device(device))


def load_generator(model: str | ModelSpec | Path, device: str | torch.device | None = None) -> torch.nn.Module:
    """A registered generator (weights via the hub) or a local StyleGAN2-ADA pickle, loaded safely."""
    resolved = pick_device(device)
    if isinstance(model, Path) or (isinstance(model, str) and _names_a_file(model)):
        path = Path(model)
        if not path.is_file():
            raise ValueError(f"{path.name}: no such generator file")  # the name only: never a server path
        if path.suffix.lower() not in GENERATOR_SUFFIXES:
            raise ValueError(f"{path.name}: a generator file ends in {', '.join(GENERATOR_SUFFIXES)} (any case)")
        return _pickle_generator(str(path.resolve()), path.stat().st_mtime, str(resolved))
    spec = get_spec(model) if isinstance(model, str) else model
    if spec.family != "generator":
        raise ValueError(f"{spec.name} is not a generator")
    return get_network(spec, resolved)


def _names_a_file(model: str) -> bool:
    """A model argument that is a file (a path, or a name with a generator suffix) rather than a registry name."""
    return Path(model).suffix.lower() in GENERATOR_SUFFIXES or "/" in model or os.sep in model


@dataclass
class LatentWalk:
    frames: list[np.ndarray]
    keyframes: list[np.ndarray]  # the frame of each seed, in order
    seeds: list[int]
    loop: bool
    seconds: float


def check_walk(seed_count: int, frames_between: object, interpolation: object, psi: object, loop: object,
               size: object) -> tuple[int, str, float, bool, int | None]:
    """The walk's options, checked and normalised before anything is loaded (the app and the CLI call this
    first, so a bad value is reported before the generator's weights are read)."""
    if not isinstance(interpolation, str) or interpolation not in INTERPOLATIONS:
        raise ParameterError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {str(interpolation)[:40]!r}")
    frames_between = check_int("frames between keyframes", frames_between, 0, 240)
    psi = float(check_number("truncation psi", psi, -1.0, 2.0))
    loop = check_flag("loop", loop)
    size = check_optional_int("output size", size, 0, 4096) or None
    if seed_count < 2 and not loop:
        raise ValueError("a walk needs at least two seeds")
    total = path_length(seed_count, frames_between, loop)
    if total > MAX_FRAMES:
        raise ValueError(f"{total} frames asked; the limit is {MAX_FRAMES} (fewer seeds or frames between keyframes)")
    return frames_between, interpolation, psi, loop, size


def latent_walk(
    generator: torch.nn.Module,
    seeds: list[int],
    frames_between: int = 24,
    interpolation: str = "w-cubic",
    psi: float = 0.7,
    loop: bool = True,
    size: int | None = None,
    precision: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> LatentWalk:
    """Seeds (keyframes) -> a walk through latent space, one uint8 frame each (see animate.render_latent_walk)."""
    frames_between, interpolation, psi, loop, size = check_walk(len(seeds), frames_between, interpolation, psi,
                                                                loop, size)
    device = next(generator.parameters()).device
    fast = resolve_precision(device, precision) != "fp32"
    space, method = INTERPOLATIONS[interpolation]
    start = time.perf_counter()
    frames = render_latent_walk(generator, seeds, frames_between, space=space, method=method, psi=psi, loop=loop,
                                size=size, progress=progress, device=device, fast=fast)
    keyframes = [frames[k * (frames_between + 1)] for k in range(len(seeds))]
    return LatentWalk(frames, keyframes, list(seeds), loop, time.perf_counter() - start)


def generate_faces(generator: torch.nn.Module, seeds: list[int], psi: float = 0.7, size: int | None = None,
                   precision: str | None = None) -> list[np.ndarray]:
    """One face per seed, exactly the walk's keyframes (seed -> z as NVIDIA's generate.py)."""
    walk = latent_walk(generator, seeds + seeds[-1:], 0, "w-linear", psi, loop=False, size=size, precision=precision)
    return walk.keyframes[: len(seeds)]
