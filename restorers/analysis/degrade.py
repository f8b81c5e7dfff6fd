"""Seeded synthetic degradations of uint8 HxWx3 RGB images.

Every function is pure: it checks its arguments (ValueError on a bad one), never changes its input
and returns a new uint8 array. The random ones take an integer `seed` and give the same output
for the same seed. A small spec language strings them together, for the app and the command line:

    parse_degradation("downscale:2+jpeg:40")          -> Degradation (two steps)
    apply_degradation(image, "stackblur:8", seed=0)   -> np.ndarray

Spec steps (separated by "+", case-insensitive, spaces ignored; "" or "none" means no change):
    stackblur:R                   stack_blur, R an integer 0..254
    gaussian:S  (or blur:S)       gaussian_blur, sigma 0..50
    downscale:F[:INTERP][:restore]
                                  downscale by F (1..64), INTERP one of nearest, bilinear,
                                  bicubic (default), lanczos, area; "restore" resizes back
    noise:S[:gray]                gaussian_noise, sigma 0..255 (0-255 scale)
    poisson:S[:gray]              poisson_noise, scale 0..10
    jpeg:Q                        jpeg, quality 1..100
    realesrgan[:SCALE]            realesrgan_chain, SCALE an integer 1..8 (default 4)
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage, signal, special

from ..guards import cancel, limits

__all__ = [
    "INTERPOLATIONS",
    "Degradation",
    "DegradationStep",
    "apply_degradation",
    "downscale",
    "encode_jpeg",
    "gaussian_blur",
    "gaussian_noise",
    "jpeg",
    "parse_degradation",
    "poisson_noise",
    "realesrgan_chain",
    "stack_blur",
]

# Pillow filters by name. "area" is Pillow's box filter, the usual stand-in for OpenCV/PyTorch
# area interpolation.
INTERPOLATIONS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "area": Image.Resampling.BOX,
}

_MAX_STACK_RADIUS = 254
_MAX_BLUR_SIGMA = 50.0
_MAX_DOWNSCALE = 64.0
_MAX_NOISE_SIGMA = 255.0
_MAX_POISSON_SCALE = 10.0
_MAX_CHAIN_SCALE = 8


# --------------------------------------------------------------------------------------------
# argument checks


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 HxWx3 RGB array, got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")


def _check_number(name: str, value: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def _check_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _check_seed(seed: int) -> int:
    return _check_int("seed", seed, 0, 2**63 - 1)


def _check_interpolation(interpolation: str) -> Image.Resampling:
    if interpolation not in INTERPOLATIONS:
        known = ", ".join(INTERPOLATIONS)
        raise ValueError(f"interpolation must be one of {known}, got {interpolation!r}")
    return INTERPOLATIONS[interpolation]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Round a float image on the 0..255 scale to uint8, clipping out-of-range values."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# blur


def _triangle_sums(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sum of x along `axis` weighted 1, 2, .., r+1, .., 2, 1 around each sample, edges clamped.

    The triangular kernel is a box of r+1 taps convolved with itself, so two running box sums
    (cumulative sums) give it exactly in integers, whatever the radius.
    """
    pad = [(0, 0)] * x.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(x, pad, mode="edge")

    def along(start: int, stop: int) -> tuple[slice, ...]:
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, stop)
        return tuple(index)

    def box(v: np.ndarray) -> np.ndarray:
        # Running sum of radius+1 samples: c[i + r + 1] - c[i] with c the cumulative sum from 0.
        shape = list(v.shape)
        shape[axis] += 1
        c = np.zeros(shape, dtype=v.dtype)
        np.cumsum(v, axis=axis, out=c[along(1, None)])
        n = v.shape[axis] - radius
        return c[along(radius + 1, radius + 1 + n)] - c[along(0, n)]

    return box(box(padded))


def stack_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mario Klingemann's Stack Blur (the integer version of the original Java/Processing code).

    Each pass replaces a pixel by sum(w_i * p_i) // (radius + 1)^2 with the triangular "stack"
    weights 1, 2, .., radius+1, .., 2, 1, pixels beyond the border clamped to the edge, and
    integer (floor) division; the horizontal pass runs first, the vertical pass works on its
    rounded result. radius: integer 0..254 (0 returns a copy; 254 is the classic code's limit).
    Vectorised as two separable integer triangle sums; equal to the scanline algorithm.
    """
    _check_image(image)
    radius = _check_int("radius", radius, 0, _MAX_STACK_RADIUS)
    if radius == 0:
        return image.copy()
    divisor = (radius + 1) ** 2
    out = _triangle_sums(image.astype(np.int64), radius, axis=1) // divisor
    out = _triangle_sums(out, radius, axis=0) // divisor
    return out.astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels (0..50; 0 returns a copy).

    scipy.ndimage.gaussian_filter per channel, kernel truncated at 4 sigma, mirrored borders
    (OpenCV's default BORDER_REFLECT_101); result rounded to uint8.
    """
    _check_image(image)
    sigma = _check_number("sigma", sigma, 0.0, _MAX_BLUR_SIGMA)
    if sigma == 0.0:
        return image.copy()
    x = image.astype(np.float32)
    return _to_uint8(ndimage.gaussian_filter(x, sigma=(sigma, sigma, 0), mode="mirror"))


# --------------------------------------------------------------------------------------------
# resize


def downscale(
    image: np.ndarray,
    factor: float,
    interpolation: str = "bicubic",
    restore_size: bool = False,
) -> np.ndarray:
    """Shrink by `factor` (1..64) to H/factor x W/factor, rounded half up, at least 1 pixel.

    interpolation: one of INTERPOLATIONS (Pillow filters; they antialias when shrinking).
    restore_size: resize the small image back to HxW with the same filter, so the result can
    be scored against the original directly (a blurred-looking image of the original size);
    otherwise the small image is returned, as a super-resolution model expects.
    """
    _check_image(image)
    factor = _check_number("factor", factor, 1.0, _MAX_DOWNSCALE)
    resample = _check_interpolation(interpolation)
    height, width = image.shape[:2]
    small_size = (max(1, int(width / factor + 0.5)), max(1, int(height / factor + 0.5)))
    small = Image.fromarray(image).resize(small_size, resample)
    if restore_size:
        small = small.resize((width, height), resample)
    return np.asarray(small).copy()


# --------------------------------------------------------------------------------------------
# noise


def _gray(x: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an HxWx3 float image, HxWx1."""
    return (x @ np.array([0.299, 0.587, 0.114], dtype=x.dtype))[..., None]


def _gaussian_noise_float(
    x: np.ndarray, sigma: float, rng: np.random.Generator, gray: bool
) -> np.ndarray:
    shape = x.shape[:2] + ((1,) if gray else (x.shape[2],))
    return x + rng.normal(0.0, sigma, size=shape).astype(x.dtype)


def _poisson_noise_float(
    x: np.ndarray, scale: float, rng: np.random.Generator, gray: bool
) -> np.ndarray:
    """Real-ESRGAN's Poisson noise on a 0..255 float image.

    The photon count per level is the number of distinct 8-bit values in the image rounded up to
    a power of two (a coarse stand-in for the unknown exposure); the noise is
    (Poisson(v * levels) / levels - v), computed on the luma for gray noise, times `scale`.
    """
    base = np.clip(np.rint(_gray(x) if gray else x), 0, 255)
    distinct = np.count_nonzero(np.bincount(base.astype(np.int64).ravel(), minlength=256))
    levels = 2.0 ** math.ceil(math.log2(distinct))
    rounded = base / 255.0
    noise = (rng.poisson(rounded * levels) / levels - rounded) * 255.0
    return x + (noise * scale).astype(x.dtype)


def gaussian_noise(image: np.ndarray, sigma: float, seed: int, gray: bool = False) -> np.ndarray:
    """Add N(0, sigma^2) noise, sigma on the 0..255 scale (0..255), then round and clip.

    gray=True adds the same noise to the three channels (luminance noise); otherwise each
    channel gets its own. Deterministic for a given seed (numpy's default_rng).
    """
    _check_image(image)
    sigma = _check_number("sigma", sigma, 0.0, _MAX_NOISE_SIGMA)
    rng = np.random.default_rng(_check_seed(seed))
    return _to_uint8(_gaussian_noise_float(image.astype(np.float64), sigma, rng, gray))


def poisson_noise(image: np.ndarray, scale: float, seed: int, gray: bool = False) -> np.ndarray:
    """Add Real-ESRGAN's signal-dependent Poisson noise times `scale` (0..10; its training
    range is 0.05..3), then round and clip. gray=True: the same (luma) noise in all channels.
    Deterministic for a given seed."""
    _check_image(image)
    scale = _check_number("scale", scale, 0.0, _MAX_POISSON_SCALE)
    rng = np.random.default_rng(_check_seed(seed))
    return _to_uint8(_poisson_noise_float(image.astype(np.float64), scale, rng, gray))


# --------------------------------------------------------------------------------------------
# JPEG


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Encode with Pillow's libjpeg at `quality` (1..100; the standard IJG quality scaling of
    the Annex K tables, 4:2:0 chroma subsampling)."""
    _check_image(image)
    quality = _check_int("quality", quality, 1, 100)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress at `quality` (integer 1..100) and decode again: block and ringing artefacts."""
    data = encode_jpeg(image, quality)
    with Image.open(io.BytesIO(data)) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()


# --------------------------------------------------------------------------------------------
# Real-ESRGAN second-order degradation


def _random_kernel(
    rng: np.random.Generator, sigma_range: tuple[float, float], sinc_prob: float
) -> np.ndarray:
    """A Real-ESRGAN blur kernel: odd size 7..21, sinc with probability sinc_prob, otherwise an
    isotropic (69 %) or anisotropic (31 %) Gaussian with sigmas in sigma_range and a random
    rotation. (Real-ESRGAN's generalized and plateau Gaussians are folded into these two.)"""
    size = int(rng.choice(np.arange(7, 22, 2)))
    if rng.uniform() < sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        return _sinc_kernel(rng.uniform(low, math.pi), size)
    if rng.uniform() < 0.69:
        sigma = rng.uniform(*sigma_range)
        sigma_x, sigma_y, angle = sigma, sigma, 0.0
    else:
        sigma_x, sigma_y = rng.uniform(*sigma_range, size=2)
        angle = rng.uniform(-math.pi, math.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    inverse_cov = np.linalg.inv(rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T)
    offsets = np.arange(size) - size // 2
    grid = np.stack(np.meshgrid(offsets, offsets, indexing="xy"), axis=-1).astype(np.float64)
    kernel = np.exp(-0.5 * np.einsum("...i,ij,...j->...", grid, inverse_cov, grid))
    return kernel / kernel.sum()


def _sinc_kernel(cutoff: float, size: int) -> np.ndarray:
    """2-D circular low-pass (jinc) kernel with cutoff frequency `cutoff` (radians/sample),
    normalised to sum 1: Real-ESRGAN's ringing/overshoot filter."""
    offsets = np.arange(size) - size // 2
    radius = np.hypot(*np.meshgrid(offsets, offsets, indexing="xy"))
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = cutoff * special.j1(cutoff * radius) / (2 * math.pi * radius)
    kernel[size // 2, size // 2] = cutoff**2 / (4 * math.pi)
    return kernel / kernel.sum()


def _filter2d(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel of an HxWxC float image with a 2-D kernel, mirrored borders (as
    Real-ESRGAN's filter2D with reflect padding); FFT-based, so big kernels stay cheap."""
    half = kernel.shape[0] // 2
    padded = np.pad(x, ((half, half), (half, half), (0, 0)), mode="reflect")
    return signal.fftconvolve(padded, kernel[::-1, ::-1, None], mode="valid", axes=(0, 1))


def _resize_float(x: np.ndarray, height: int, width: int, interpolation: str) -> np.ndarray:
    """Resize an HxWxC float image per channel with a Pillow filter (32-bit float mode)."""
    resample = INTERPOLATIONS[interpolation]
    channels = []
    for c in range(x.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(x[:, :, c], dtype=np.float32))
        channels.append(np.asarray(plane.resize((width, height), resample)))
    return np.stack(channels, axis=2).astype(np.float64)


def _random_resize(
    x: np.ndarray,
    rng: np.random.Generator,
    probs: tuple[float, float, float],
    scale_range: tuple[float, float],
    base: tuple[float, float],
) -> np.ndarray:
    """Resize to base * s, s drawn up (1..max) / down (min..1) / kept, with `probs`; the filter
    is drawn from area, bilinear, bicubic."""
    direction = rng.choice(3, p=probs)
    if direction == 0:
        factor = rng.uniform(1.0, scale_range[1])
    elif direction == 1:
        factor = rng.uniform(scale_range[0], 1.0)
    else:
        factor = 1.0
    mode = str(rng.choice(["area", "bilinear", "bicubic"]))
    height, width = (max(1, int(side * factor)) for side in base)
    return _resize_float(x, height, width, mode)


def _random_noise(
    x: np.ndarray,
    rng: np.random.Generator,
    sigma_range: tuple[float, float],
    poisson_range: tuple[float, float],
) -> np.ndarray:
    """Gaussian noise (probability 0.5) or Poisson noise; gray noise with probability 0.4."""
    use_gaussian = rng.uniform() < 0.5
    gray = rng.uniform() < 0.4
    if use_gaussian:
        out = _gaussian_noise_float(x, rng.uniform(*sigma_range), rng, gray)
    else:
        out = _poisson_noise_float(x, rng.uniform(*poisson_range), rng, gray)
    return np.clip(out, 0.0, 255.0)


def _random_jpeg(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return jpeg(_to_uint8(x), int(round(rng.uniform(30, 95)))).astype(np.float64)


def realesrgan_chain(image: np.ndarray, seed: int, scale: int = 4) -> np.ndarray:
    """Real-ESRGAN's second-order degradation (Wang et al. 2021), simplified but faithful.

    Output: (H // scale) x (W // scale), the low-resolution training input of a x`scale` model
    (scale=1 gives a degraded image of the original size). scale: integer 1..8, and the image
    must be at least scale x scale. Parameters are drawn from default_rng(seed), with
    Real-ESRGAN's x4plus training ranges:
      1st order: blur (kernel 7..21 px; Gaussian sigma 0.2..3, iso or aniso; sinc p=0.1)
                 -> resize x U(1, 1.5) up p=0.2 / x U(0.15, 1) down p=0.7 / keep p=0.1,
                    area|bilinear|bicubic
                 -> Gaussian noise sigma 1..30 (p=0.5) or Poisson scale 0.05..3; gray p=0.4
                 -> JPEG quality 30..95
      2nd order: blur p=0.8 (sigma 0.2..1.5) -> resize to the target size x U(1, 1.2) up p=0.3 /
                 x U(0.3, 1) down p=0.4 / keep p=0.3 -> noise sigma 1..25 or Poisson 0.05..2.5
      final:     in random order, [resize to the target size + sinc filter (p=0.8, cutoff
                 pi/3..pi)] and [JPEG quality 30..95]; round to uint8.
    Simplifications: no unsharp-masking of the input, Pillow resampling (antialiased) instead of
    PyTorch's interpolate, libjpeg instead of DiffJPEG, generalized/plateau kernels replaced by
    Gaussians, values quantised to 8 bits at each JPEG step only.
    """
    _check_image(image)
    seed = _check_seed(seed)
    scale = _check_int("scale", scale, 1, _MAX_CHAIN_SCALE)
    height, width = image.shape[:2]
    if height < scale or width < scale:
        raise ValueError(f"image {height}x{width} is smaller than the scale {scale}")
    rng = np.random.default_rng(seed)
    target = (height // scale, width // scale)
    x = image.astype(np.float64)

    # first order
    x = _filter2d(x, _random_kernel(rng, (0.2, 3.0), sinc_prob=0.1))
    x = _random_resize(x, rng, (0.2, 0.7, 0.1), (0.15, 1.5), (height, width))
    x = _random_noise(x, rng, (1.0, 30.0), (0.05, 3.0))
    x = _random_jpeg(x, rng)

    # second order
    if rng.uniform() < 0.8:
        x = _filter2d(x, _random_kernel(rng, (0.2, 1.5), sinc_prob=0.1))
    x = _random_resize(x, rng, (0.3, 0.4, 0.3), (0.3, 1.2), target)
    x = _random_noise(x, rng, (1.0, 25.0), (0.05, 2.5))

    # final: resize to the target and the sinc filter, and JPEG, in random order
    def resize_and_sinc(v: np.ndarray) -> np.ndarray:
        v = _resize_float(v, target[0], target[1], str(rng.choice(["area", "bilinear", "bicubic"])))
        if rng.uniform() < 0.8:
            size = int(rng.choice(np.arange(7, 22, 2)))
            v = _filter2d(v, _sinc_kernel(rng.uniform(math.pi / 3, math.pi), size))
        return v

    if rng.uniform() < 0.5:
        x = _random_jpeg(resize_and_sinc(x), rng)
    else:
        x = resize_and_sinc(_random_jpeg(x, rng))
    return _to_uint8(x)


# --------------------------------------------------------------------------------------------
# the spec language


@dataclass(frozen=True)
class DegradationStep:
    """One step of a spec: `kind` with an optional numeric `value` and word `options`."""

    kind: str
    value: float | None = None
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [self.kind]
        if self.value is not None:
            parts.append(f"{self.value:g}")
        return ":".join(parts + list(self.options))

    @property
    def is_random(self) -> bool:
        return self.kind in ("noise", "poisson", "realesrgan")

    def apply(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        """Run this step on `image`; `seed` is used by the random kinds only."""
        return _KINDS[self.kind].run(image, self, seed)


@dataclass(frozen=True)
class Degradation:
    """A parsed spec: steps applied left to right. str() gives the canonical spec back."""

    steps: tuple[DegradationStep, ...] = ()

    def __str__(self) -> str:
        return "+".join(str(step) for step in self.steps) or "none"

    @property
    def is_random(self) -> bool:
        return any(step.is_random for step in self.steps)

    def apply(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        """Apply every step. Step i draws from seed sequence (seed, i), so repeated random steps
        get independent noise and the whole result depends only on (spec, seed)."""
        _check_image(image)
        seed = _check_seed(seed)
        out = image.copy()
        for index, step in enumerate(self.steps):
            cancel.check()
            step_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
            out = step.apply(out, step_seed)
        return out


@dataclass(frozen=True)
class _Kind:
    """How a spec word is read: `value` parses and range-checks the number (None: takes no
    number), whether the number is required, the allowed option words, and the runner."""

    value: Callable[[str], float] | None
    value_required: bool
    options: tuple[str, ...]
    run: Callable[[np.ndarray, DegradationStep, int], np.ndarray]


def _int_value(name: str, low: int, high: int) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {text!r}") from None
        if not number.is_integer():
            raise ValueError(f"{name} must be an integer, got {text!r}")
        return float(_check_int(name, int(number), low, high))

    return parse


def _float_value(name: str, low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {text!r}") from None
        return _check_number(name, number, low, high)

    return parse


def _run_downscale(image: np.ndarray, step: DegradationStep, seed: int) -> np.ndarray:
    interpolation = next((o for o in step.options if o in INTERPOLATIONS), "bicubic")
    return downscale(image, step.value, interpolation, restore_size="restore" in step.options)


_KINDS: dict[str, _Kind] = {
    "stackblur": _Kind(
        _int_value("stackblur radius", 0, _MAX_STACK_RADIUS), True, (),
        lambda im, st, seed: stack_blur(im, int(st.value)),
    ),
    "gaussian": _Kind(
        _float_value("gaussian blur sigma", 0.0, _MAX_BLUR_SIGMA), True, (),
        lambda im, st, seed: gaussian_blur(im, st.value),
    ),
    "downscale": _Kind(
        _float_value("downscale factor", 1.0, _MAX_DOWNSCALE), True, (*INTERPOLATIONS, "restore"),
        _run_downscale,
    ),
    "noise": _Kind(
        _float_value("noise sigma", 0.0, _MAX_NOISE_SIGMA), True, ("gray",),
        lambda im, st, seed: gaussian_noise(im, st.value, seed, gray="gray" in st.options),
    ),
    "poisson": _Kind(
        _float_value("poisson scale", 0.0, _MAX_POISSON_SCALE), True, ("gray",),
        lambda im, st, seed: poisson_noise(im, st.value, seed, gray="gray" in st.options),
    ),
    "jpeg": _Kind(
        _int_value("jpeg quality", 1, 100), True, (),
        lambda im, st, seed: jpeg(im, int(st.value)),
    ),
    "realesrgan": _Kind(
        _int_value("realesrgan scale", 1, _MAX_CHAIN_SCALE), False, (),
        lambda im, st, seed: realesrgan_chain(im, seed, 4 if st.value is None else int(st.value)),
    ),
}
_ALIASES = {"blur": "gaussian"}


def _parse_step(text: str) -> DegradationStep:
    name, *args = text.split(":")
    kind = _ALIASES.get(name, name)
    if kind not in _KINDS:
        known = sorted([*_KINDS, *_ALIASES])
        raise ValueError(f"unknown degradation {name!r} in {text!r}; known: {', '.join(known)}")
    spec = _KINDS[kind]
    value = None
    if args and spec.value is not None:
        value = spec.value(args.pop(0))
    elif spec.value_required:
        raise ValueError(f"degradation {text!r} needs a value, e.g. '{kind}:2'")
    options: list[str] = []
    for option in args:
        if option not in spec.options:
            allowed = ", ".join(spec.options) or "none"
            raise ValueError(f"unexpected {option!r} in {text!r}; options for {kind}: {allowed}")
        if option in options:
            raise ValueError(f"{option!r} given twice in {text!r}")
        options.append(option)
    if kind == "downscale" and sum(o in INTERPOLATIONS for o in options) > 1:
        raise ValueError(f"more than one interpolation in {text!r}")
    return DegradationStep(kind, value, tuple(options))


def parse_degradation(spec: str) -> Degradation:
    """Parse a spec such as "stackblur:8", "downscale:2:bilinear+jpeg:40" or "realesrgan" (see
    the module docstring for every step). Raises ValueError, naming the bad part, on anything
    unknown or out of range; "" and "none" give the identity."""
    if not isinstance(spec, str):
        raise ValueError(f"degradation spec must be a string, got {type(spec).__name__}")
    text = "".join(spec.split()).lower()
    if text in ("", "none"):
        return Degradation()
    parts = text.split("+")
    if any(not part for part in parts):
        raise ValueError(f"empty step in degradation spec {spec!r}")
    most = limits.max_degrade_steps()
    if most and len(parts) > most:
        raise ValueError(f"{len(parts)} steps in degradation spec; at most {most} may be chained "
                         f"(${limits.MAX_DEGRADE_STEPS_ENV} raises the limit)")
    return Degradation(tuple(_parse_step(part) for part in parts))


def apply_degradation(image: np.ndarray, spec: str | Degradation, seed: int = 0) -> np.ndarray:
    """Degrade `image` by a spec string or a parsed Degradation; same (spec, seed), same output."""
    degradation = spec if isinstance(spec, Degradation) else parse_degradation(spec)
    return degradation.apply(image, seed)
