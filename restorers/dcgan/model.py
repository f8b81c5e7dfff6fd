"""DCGAN checkpoints, samples and latent walks (the training loop is in training.py).

Checkpoints are read with ``torch.load(weights_only=True)`` (no code in them runs) and recognised by
their keys, in this order: the project's own format (``{'format': 'restorers-dcgan', ...}``), the PyTorch
DCGAN tutorial's ``{'netG_state_dict': ...}`` wrapper, and a bare generator state_dict in the tutorial's
``main.N.*`` layout (a ``module.`` DataParallel prefix is dropped). Anything else is refused in words.

Latent walks use the same code as the StyleGAN2-ADA walk (animate.seed_to_z for the keyframes,
animate.interpolation_path between them), so the two generators' walks can be compared frame for frame;
a DCGAN has no mapping network, so only the z-space interpolations apply.
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..analysis.animate import images_to_uint8, interpolation_path, path_length, seed_to_z
from ..media.layout import contact_sheet, resize_lanczos
from ..models.archs.dcgan import DCGANDiscriminator, DCGANGenerator, generator_config
from ..guards.limits import MAX_GENERATOR_PARAMS_ENV, max_generator_params
from ..guards.pickle_scan import NotAPickleError, PickleRefused, check_torch_file

FORMAT = "restorers-dcgan"
FORMAT_VERSION = 1
# The StyleGAN2-ADA tab's z-space interpolations (generate.INTERPOLATIONS), the ones a DCGAN can use.
WALK_INTERPOLATIONS = {"z-slerp": "slerp", "z-linear": "linear", "z-cubic": "cubic"}


class CheckpointError(ValueError):
    """A file that is not a usable DCGAN checkpoint."""


@dataclass
class DCGANModel:
    """A generator ready to sample (eval mode), with what is known about how it was made."""

    generator: DCGANGenerator
    discriminator: DCGANDiscriminator | None
    config: dict[str, Any]  # nz, ngf, nc, image_size (+ the training settings for our own checkpoints)
    source: str  # 'restorers-dcgan', 'tutorial (netG_state_dict)' or 'tutorial (bare state_dict)'
    fixed_noise: torch.Tensor | None = None
    history: dict[str, list[float]] | None = None

    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @property
    def nz(self) -> int:
        return int(self.config["nz"])


def checkpoint_dict(generator: DCGANGenerator, discriminator: DCGANDiscriminator | None, config: Mapping[str, Any],
                    fixed_noise: torch.Tensor | None = None, history: Mapping[str, list[float]] | None = None) -> dict:
    """The project's checkpoint format: plain tensors, numbers and strings only (loads with weights_only)."""
    out: dict[str, Any] = {
        "format": FORMAT, "version": FORMAT_VERSION, "config": dict(config),
        "generator": {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()},
    }
    if discriminator is not None:
        out["discriminator"] = {k: v.detach().cpu().contiguous() for k, v in discriminator.state_dict().items()}
    if fixed_noise is not None:
        out["fixed_noise"] = fixed_noise.detach().cpu()
    if history is not None:
        out["history"] = {k: [float(x) for x in v] for k, v in history.items()}
    return out


def save_checkpoint(path: str | Path, model: DCGANModel) -> Path:
    from ..media.atomic import atomic_output  # written whole or not at all

    path = Path(path)
    with atomic_output(path) as partial:
        torch.save(checkpoint_dict(model.generator, model.discriminator, model.config, model.fixed_noise,
                                   model.history), partial)
    return path


def _strip_module(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("module."): v for k, v in state.items()}


def _check_size(build: Callable[[], torch.nn.Module], name: str) -> None:
    """Count the network's parameters on the meta device (no memory) before building it for real."""
    with torch.device("meta"):
        count = sum(p.numel() for p in build().parameters())
    if count > max_generator_params():
        raise CheckpointError(f"{name} describes a network of {count / 1e6:,.0f} M parameters; at most "
                              f"{max_generator_params() / 1e6:,.0f} M are built here (${MAX_GENERATOR_PARAMS_ENV})")


def model_from_checkpoint(checkpoint: object, name: str = "the checkpoint") -> DCGANModel:
    """Recognise a loaded checkpoint (see the module docstring) and build the generator from it."""
    from ..guards.validate import shorten
    from ..models.checkpoint import non_finite_keys

    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{name} is not a DCGAN checkpoint (it holds a {type(checkpoint).__name__}, not a dict)")
    discriminator_state = None
    extra: dict[str, Any] = {}
    fixed_noise = history = None
    if checkpoint.get("format") == FORMAT:
        state, source = checkpoint.get("generator"), FORMAT
        extra = dict(checkpoint.get("config") or {})
        discriminator_state = checkpoint.get("discriminator")
        fixed_noise, history = checkpoint.get("fixed_noise"), checkpoint.get("history")
    elif isinstance(checkpoint.get("netG_state_dict"), dict):
        state, source = checkpoint["netG_state_dict"], "tutorial (netG_state_dict)"
        discriminator_state = checkpoint.get("netD_state_dict")
    else:
        state, source = checkpoint, "tutorial (bare state_dict)"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name} is not a DCGAN checkpoint: no generator state_dict in it")
    state = _strip_module(state)
    try:
        shape = generator_config(state)
    except ValueError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    declared = sum(t.numel() for t in state.values())  # what the file's tensors claim (views cost nothing)
    if declared > max_generator_params():
        raise CheckpointError(f"{name} describes a network of {declared / 1e6:,.0f} M parameters; at most "
                              f"{max_generator_params() / 1e6:,.0f} M are built here (${MAX_GENERATOR_PARAMS_ENV})")
    _check_size(lambda: DCGANGenerator(shape["nz"], shape["ngf"], shape["nc"], shape["image_size"]), name)
    generator = DCGANGenerator(shape["nz"], shape["ngf"], shape["nc"], shape["image_size"])
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        missing = [shorten(k, 80) for k in sorted(set(generator.state_dict()) - set(state))[:3]]
        unexpected = [shorten(k, 80) for k in sorted(set(state) - set(generator.state_dict()))[:3]]
        raise CheckpointError(f"{name} does not match a DCGAN generator (missing keys {missing}, unexpected keys "
                              f"{unexpected}, or different shapes)") from exc
    broken = non_finite_keys(state)
    if broken:  # NaN weights would sample black squares that look like a result
        raise CheckpointError(f"{name}: {len(broken)} generator tensor(s) hold NaN or infinite values (e.g. "
                              f"{shorten(broken[0], 80)}); its samples would not be finite, so it is refused")
    discriminator = None
    if isinstance(discriminator_state, dict):
        discriminator_state = _strip_module(discriminator_state)
        # Its width comes from the tensors the file holds, never from a recorded number: a config saying
        # ndf=10**6 would otherwise allocate terabytes before load_state_dict could object.
        first = discriminator_state.get("main.0.weight")
        ndf = int(first.shape[0]) if isinstance(first, torch.Tensor) and first.ndim == 4 else 0
        try:
            if not 1 <= ndf <= 2048:
                raise ValueError("no usable discriminator width")
            _check_size(lambda: DCGANDiscriminator(ndf, shape["nc"], shape["image_size"]), name)
            discriminator = DCGANDiscriminator(ndf, shape["nc"], shape["image_size"])
            discriminator.load_state_dict(discriminator_state, strict=True)
        except (RuntimeError, ValueError):
            discriminator = None  # sampling needs only the generator
    config = {**extra, **shape}
    return DCGANModel(generator.eval().requires_grad_(False), discriminator, config, source,
                      fixed_noise if isinstance(fixed_noise, torch.Tensor) else None,
                      history if isinstance(history, dict) else None)


def load_checkpoint(path: str | Path) -> DCGANModel:
    """A DCGAN checkpoint file -> model (weights_only: no code in the file runs)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such checkpoint file")
    try:  # judged before unpickling: zip directory, declared sizes, pickle opcodes (guards.pickle_scan)
        check_torch_file(path, name=path.name)
    except PickleRefused as exc:
        raise CheckpointError(str(exc)) from None
    except NotAPickleError:
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint (.pt/.pth saved with torch.save)") from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the same to the user
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint (.pt/.pth saved with torch.save); "
                              "only tensors, numbers and strings are accepted") from exc
    return model_from_checkpoint(checkpoint, path.name)


# ---------------------------------------------------------------------------------------------------
# Sampling and walks
# ---------------------------------------------------------------------------------------------------

def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N,3,H,W] in [-1,1] -> [N,H,W,3] uint8 (the StyleGAN2 walk's conversion)."""
    return images_to_uint8(images)


def sample_grid(images: np.ndarray, columns: int | None = None, cell: int | None = None) -> np.ndarray:
    """Samples [N,H,W,3] on one grid; `cell` enlarges each (nearest) so 32 px samples are visible."""
    tiles = list(images)
    if cell and cell != tiles[0].shape[0]:
        tiles = [np.asarray(Image.fromarray(t).resize((cell, cell), Image.Resampling.NEAREST)) for t in tiles]
    return contact_sheet(tiles, columns=columns or math.ceil(math.sqrt(len(tiles))), gap=2, background=16)


def generate(model: DCGANModel | DCGANGenerator, seeds: Sequence[int]) -> np.ndarray:
    """One image per seed (z drawn as the StyleGAN2 walk draws it: RandomState(seed).randn)."""
    generator = model.generator if isinstance(model, DCGANModel) else model
    z = torch.cat([seed_to_z(int(s), generator.nz) for s in seeds]).float()
    with torch.inference_mode():
        return to_uint8(generator.eval()(z))


@dataclass
class DCGANWalk:
    frames: list[np.ndarray]
    keyframes: list[np.ndarray]
    seeds: list[int]
    loop: bool
    seconds: float


def latent_walk(model: DCGANModel | DCGANGenerator, seeds: Sequence[int], frames_between: int = 24,
                interpolation: str = "z-slerp", loop: bool = True, size: int | None = 256,
                max_frames: int = 600, progress: Callable[[float, str], None] | None = None) -> DCGANWalk:
    """Seeds (keyframes) -> frames of a walk through z, by animate.interpolation_path."""
    from ..analysis.generate import parse_seeds  # the same seed rules as the StyleGAN2-ADA walk

    seeds = parse_seeds(",".join(str(s) for s in seeds)) if not isinstance(seeds, str) else parse_seeds(seeds)
    if interpolation not in WALK_INTERPOLATIONS:
        raise ValueError(f"a DCGAN has only a z space: interpolation must be one of {', '.join(WALK_INTERPOLATIONS)}, "
                         f"got '{interpolation}'")
    if not 0 <= frames_between <= 240:
        raise ValueError(f"frames between keyframes must be between 0 and 240, got {frames_between}")
    if len(seeds) < 2 and not loop:
        raise ValueError("a walk needs at least two seeds")
    total = path_length(len(seeds), frames_between, loop)
    if total > max_frames:
        raise ValueError(f"{total} frames asked; the limit is {max_frames} (fewer seeds or frames between keyframes)")
    generator = (model.generator if isinstance(model, DCGANModel) else model).eval()
    start = time.perf_counter()
    keys = torch.cat([seed_to_z(int(s), generator.nz) for s in seeds])  # float64, as the StyleGAN walk
    path = interpolation_path(keys, frames_between, WALK_INTERPOLATIONS[interpolation], loop).float()
    frames: list[np.ndarray] = []
    with torch.inference_mode():
        for begin in range(0, total, 32):
            for image in to_uint8(generator(path[begin : begin + 32])):
                frames.append(resize_lanczos(image, (size, size)) if size else image)
            if progress is not None:
                progress(len(frames) / total, f"frame {len(frames)}/{total}")
    keyframes = [frames[k * (frames_between + 1)] for k in range(len(seeds))]
    return DCGANWalk(frames, keyframes, list(seeds), loop, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------------
# Loss history: CSV and a PNG chart (Pillow only, so the engine needs no plotting library)
# ---------------------------------------------------------------------------------------------------

LOSS_COLUMNS = ("iteration", "epoch", "loss_d", "loss_g", "loss_d_smooth", "loss_g_smooth", "d_real", "d_fake")


def losses_csv(rows: Sequence[Mapping[str, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, LOSS_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in LOSS_COLUMNS})
    return buffer.getvalue()


_COLOURS = {"loss_d": (220, 80, 60), "loss_g": (60, 110, 220)}


def loss_chart(rows: Sequence[Mapping[str, float]], width: int = 800, height: int = 360) -> np.ndarray:
    """Generator and discriminator loss per iteration (faint) and smoothed (bold), as an RGB image."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = 56, width - 12, 28, height - 34
    draw.rectangle((left, top, right, bottom), outline=(120, 120, 120))
    draw.text((left, 8), "DCGAN losses per iteration (thin: raw, thick: smoothed)", fill=(0, 0, 0), font=font)
    if rows:
        xs = [float(r["iteration"]) for r in rows]
        values = [float(r[k]) for r in rows for k in ("loss_d", "loss_g") if math.isfinite(float(r[k]))]
        y_max = max(values + [1e-3]) * 1.05
        x_min, x_max = xs[0], max(xs[-1], xs[0] + 1)

        def point(x: float, y: float) -> tuple[float, float]:
            return (left + (x - x_min) / (x_max - x_min) * (right - left),
                    bottom - min(max(y, 0.0), y_max) / y_max * (bottom - top))

        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = bottom - frac * (bottom - top)
            draw.line((left - 4, y, left, y), fill=(120, 120, 120))
            draw.text((6, y - 6), f"{frac * y_max:.2f}", fill=(60, 60, 60), font=font)
        draw.text((left, bottom + 8), f"iteration {int(x_min)}", fill=(60, 60, 60), font=font)
        draw.text((right - 90, bottom + 8), f"iteration {int(x_max)}", fill=(60, 60, 60), font=font)
        for key, colour in _COLOURS.items():
            faint = tuple(int(c + (255 - c) * 0.65) for c in colour)
            for series, fill, lw in ((key, faint, 1), (f"{key}_smooth", colour, 3)):
                pts = [point(x, float(r[series])) for x, r in zip(xs, rows) if math.isfinite(float(r[series]))]
                if len(pts) > 1:
                    draw.line(pts, fill=fill, width=lw)
        for i, (label, colour) in enumerate((("discriminator", _COLOURS["loss_d"]), ("generator", _COLOURS["loss_g"]))):
            x = right - 200 + i * 105
            draw.line((x, 14, x + 18, 14), fill=colour, width=3)
            draw.text((x + 22, 8), label, fill=(0, 0, 0), font=font)
    return np.asarray(image)
