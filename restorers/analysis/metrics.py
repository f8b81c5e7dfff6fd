"""Image-quality metrics: PSNR, SSIM, MS-SSIM, UQI, VIF-P here, and the registry (METRICS) that also offers
LPIPS-VGG (perceptual.py), ArcFace identity (identity.py) and the no-reference NIQE (niqe.py); what each
score means, its direction, pins and cost: docs/metrics.md.

Every metric takes two uint8 arrays of equal shape, HxW or HxWxC (RGB at the package boundary),
and returns a Python float. The first argument is the reference (ground truth).

The seed project scored images with `sewar`. The numbers here follow sewar's conventions where
that is stated (so old tables can be reproduced) and are checked against it in the tests, but
the computation is vectorised on separable `scipy.ndimage` filters and integral images instead of
sewar's per-channel 2-D `scipy.signal.convolve2d`, which makes SSIM/MS-SSIM/VIF-P many times
faster at 1024x1024 (see benchmarks/bench_metrics.py). sewar is not imported here.

Conventions shared by all metrics:
- the data range is 255 (uint8);
- a colour image is scored per channel and the per-channel scores are averaged (sewar's rule);
- "valid" windows only (no padding) unless stated otherwise.

Internally images are kept channel-first (C, H, W) in float64 (or int64 where sums are exact).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image
from scipy import ndimage

from ..guards import cancel
from ..models import hub
from ..models.hub import WeightsFile
from ..models.metric_weights import ARCFACE, LPIPS_VGG

__all__ = [
    "METRICS",
    "PIXEL_METRICS",
    "MetricInfo",
    "available_metrics",
    "metric_problem",
    "prepare_metrics",
    "match_size",
    "ms_ssim",
    "psnr",
    "score_all",
    "ssim",
    "uqi",
    "uqi_sewar",
    "vifp",
]

_MAX = 255.0
_SSIM_WS = 11
MIN_SCORED_SIDE = _SSIM_WS  # the smallest side every full-reference score accepts (SSIM's window)
_SSIM_C1 = (0.01 * _MAX) ** 2
_SSIM_C2 = (0.03 * _MAX) ** 2
_UQI_WS = 8
_MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# --------------------------------------------------------------------------------------------
# input checks and filters


def _check_pair(a: np.ndarray, b: np.ndarray, min_side: int = 1) -> None:
    """Raise ValueError unless a and b are uint8 arrays of one shape, HxW or HxWxC."""
    for name, x in (("first", a), ("second", b)):
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{name} image must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.uint8:
            raise ValueError(f"{name} image must be uint8, got dtype {x.dtype}")
        if x.ndim not in (2, 3):
            raise ValueError(f"{name} image must be HxW or HxWxC, got shape {x.shape}")
    if a.shape != b.shape:
        raise ValueError(
            f"images must have the same shape, got {a.shape} and {b.shape} "
            "(use restorers.metrics.match_size to resize an output to the ground truth)"
        )
    if a.ndim == 3 and a.shape[2] == 0:
        raise ValueError(f"images have no channels: shape {a.shape}")
    if min(a.shape[:2]) < min_side:
        raise ValueError(f"images must be at least {min_side}x{min_side} pixels, got {a.shape[:2]}")


def _channels_first(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """HxW or HxWxC -> contiguous (C, H, W) array of the given dtype."""
    if x.ndim == 2:
        x = x[:, :, None]
    return np.ascontiguousarray(np.moveaxis(x, 2, 0), dtype=dtype)


def _gaussian_kernel_1d(ws: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian on offsets -ws//2+1 .. ws//2 (MATLAB fspecial / sewar grid).

    The 2-D window sewar and MATLAB build is the outer product of this, so filtering separably
    with it gives the same numbers (up to float rounding). Their tiny-value cutoff
    (eps * max) never triggers for the windows used here.
    """
    x = np.arange(-ws // 2 + 1, ws // 2 + 1, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _valid_gaussian(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate the last two axes with a separable odd-length kernel; keep valid positions."""
    half = kernel.size // 2
    out = ndimage.correlate1d(x, kernel, axis=-1)[..., half : x.shape[-1] - half]
    return ndimage.correlate1d(out, kernel, axis=-2)[..., half : x.shape[-2] - half, :]


def _valid_box_sums(x: np.ndarray, ws: int) -> np.ndarray:
    """Sums over every ws x ws window fully inside the last two axes.

    Integer input gives exact sums (uint8 images go in as int64). Along rows a cumulative sum
    (fast on the contiguous axis), down columns a sum of ws shifted row blocks.
    """
    c = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,), dtype=x.dtype)
    np.cumsum(x, axis=-1, out=c[..., 1:])
    rows = c[..., ws:] - c[..., :-ws]
    n_out = x.shape[-2] - ws + 1
    out = rows[..., :n_out, :].copy()
    for k in range(1, ws):
        out += rows[..., k : k + n_out, :]
    return out


# Output rows per strip. Working on horizontal strips keeps the moment planes of a strip in
# cache; on a 1024x1024 image this is ~1.5x faster than filtering whole planes.
_STRIP_ROWS = 64


def _window_strips(height: int, ws: int) -> Iterator[slice]:
    """Input-row slices whose valid ws-row windows give _STRIP_ROWS output rows each (the last
    strip fewer); together they cover every output row once."""
    n_out = height - ws + 1
    for start in range(0, n_out, _STRIP_ROWS):
        stop = min(n_out, start + _STRIP_ROWS)
        yield slice(start, stop + ws - 1)


# --------------------------------------------------------------------------------------------
# PSNR


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, 10*log10(255^2 / MSE), MSE over all pixels and channels.

    Identical images have MSE 0: the result is float('inf') (as sewar's np.inf), so callers that
    tabulate or average PSNR must handle infinity.
    """
    _check_pair(a, b)
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(_MAX**2 / mse))


# --------------------------------------------------------------------------------------------
# SSIM and MS-SSIM


def _ssim_means(x: np.ndarray, y: np.ndarray, window: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel means of the SSIM and contrast-structure maps over valid 11x11 windows.

    x, y: (C, H, W) arrays, int64 for window="uniform" (exact integer window sums), float64
    otherwise. Local statistics use the window weights as given (biased, "divide by N"), like
    sewar and the paper's code. Only var(x) + var(y) enters SSIM, so four moments are filtered
    (x, y, x^2 + y^2, xy) instead of five.
    """
    if window == "uniform":
        area = float(_SSIM_WS * _SSIM_WS)

        def local_means(stack: np.ndarray) -> np.ndarray:
            return _valid_box_sums(stack, _SSIM_WS) / area

    elif window == "gaussian":
        kernel = _gaussian_kernel_1d(_SSIM_WS, 1.5)

        def local_means(stack: np.ndarray) -> np.ndarray:
            return _valid_gaussian(stack, kernel)

    else:
        raise ValueError(f"window must be 'uniform' or 'gaussian', got {window!r}")
    c, height, width = x.shape
    ssim_sum = np.zeros(c)
    cs_sum = np.zeros(c)
    for rows in _window_strips(height, _SSIM_WS):
        xs, ys = x[:, rows], y[:, rows]
        moments = local_means(np.concatenate([xs, ys, xs * xs + ys * ys, xs * ys]))
        mu_x, mu_y, e_sq, e_xy = (moments[i * c : (i + 1) * c] for i in range(4))
        mu_xy = mu_x * mu_y
        mu_sq = mu_x * mu_x + mu_y * mu_y
        cs_map = (2.0 * (e_xy - mu_xy) + _SSIM_C2) / ((e_sq - mu_sq) + _SSIM_C2)
        ssim_map = (2.0 * mu_xy + _SSIM_C1) / (mu_sq + _SSIM_C1) * cs_map
        ssim_sum += ssim_map.sum(axis=(1, 2))
        cs_sum += cs_map.sum(axis=(1, 2))
    count = (height - _SSIM_WS + 1) * (width - _SSIM_WS + 1)
    return ssim_sum / count, cs_sum / count


def ssim(a: np.ndarray, b: np.ndarray, window: str = "uniform") -> float:
    """Structural similarity (Wang et al. 2004), K1=0.01, K2=0.03, L=255, valid 11x11 windows.

    window="uniform": sewar's default, an 11x11 box window. This equals the first element of
    sewar.full_ref.ssim's (ssim, cs) tuple.
    window="gaussian": the paper's reference code (ssim_index.m), an 11x11 Gaussian with
    sigma 1.5; no automatic downsampling. Equals sewar.ssim with a Gaussian fltr_specs.
    Colour images: per-channel SSIM, averaged. Needs at least 11x11 pixels. Identical images
    give exactly 1.0.
    """
    if window not in ("uniform", "gaussian"):
        raise ValueError(f"window must be 'uniform' or 'gaussian', got {window!r}")
    _check_pair(a, b, min_side=_SSIM_WS)
    dtype = np.int64 if window == "uniform" else np.float64
    ssim_means, _ = _ssim_means(_channels_first(a, dtype), _channels_first(b, dtype), window)
    return float(np.mean(ssim_means))


def _sewar_halve(x: np.ndarray) -> np.ndarray:
    """sewar's MS-SSIM downsampling of an HxWxC image, written for a (C, H, W) array.

    sewar applies scipy's uniform_filter(size=2) to the whole HxWxC array (the channel axis
    included) and keeps every second row and column. A size-2 box covers samples i-1 and i,
    with 'reflect' at the start, so along each filtered axis out[0] = x[0] and
    out[i] = (x[i-1] + x[i]) / 2. Along the channel axis this mixes channels
    (R, (R+G)/2, (G+B)/2); it is a quirk, reproduced on purpose so the figures match.
    The values stay small dyadic fractions, so this is exact in float64.
    """

    # channels: filtered, not subsampled
    mixed = np.empty_like(x)
    mixed[0] = x[0]
    mixed[1:] = (x[:-1] + x[1:]) / 2.0
    return _box2_keep_even(_box2_keep_even(mixed, 1), 2)


def _box2_keep_even(v: np.ndarray, axis: int) -> np.ndarray:
    """Size-2 box filter ('reflect' start) along `axis`, keeping only the even positions:
    out[0] = v[0], out[j] = (v[2j-1] + v[2j]) / 2."""
    v = np.moveaxis(v, axis, 0)
    kept = (v.shape[0] + 1) // 2
    out = np.empty((kept,) + v.shape[1:], dtype=v.dtype)
    out[0] = v[0]
    out[1:] = (v[1 : 2 * kept - 1 : 2] + v[2::2]) / 2.0
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale SSIM with sewar.full_ref.msssim's conventions.

    Weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); per scale an 11x11 Gaussian (sigma 1.5)
    SSIM over valid windows, cs for every scale but the last, SSIM for the last; between
    scales sewar's size-2 box filter (on all axes, channels included, see _sewar_halve) and a
    factor-2 subsampling. Images whose short side is under 176 px use fewer scales, sewar's rule
    floor(log2(min_side / 11)) + 1, with the leading weights unrenormalised; under 11 px raises.

    sewar raises the per-scale values to fractional powers in complex arithmetic (a negative
    cs gives a complex power) and returns the real part; this returns the same real part as a
    float. For sensible image pairs all terms are positive and the value is in (0, 1].
    """
    _check_pair(a, b, min_side=_SSIM_WS)
    x = _channels_first(a)
    y = _channels_first(b)
    max_scales = int(np.floor(np.log2(min(a.shape[:2]) / _SSIM_WS))) + 1
    weights = np.array(_MSSSIM_WEIGHTS[: min(len(_MSSSIM_WEIGHTS), max_scales)])
    values = []
    for scale in range(weights.size):
        ssim_means, cs_means = _ssim_means(x, y, "gaussian")
        last = scale == weights.size - 1
        values.append(float(np.mean(ssim_means if last else cs_means)))
        if not last:
            x, y = _sewar_halve(x), _sewar_halve(y)
    powers = np.array(values, dtype=np.complex128) ** weights
    return float(np.prod(powers).real)


# --------------------------------------------------------------------------------------------
# UQI


def uqi(a: np.ndarray, b: np.ndarray) -> float:
    """Universal image quality index Q (Wang & Bovik, IEEE SPL 2002), computed as published.

    Q = 4 cov(x,y) mean(x) mean(y) / ((var(x) + var(y)) (mean(x)^2 + mean(y)^2)) on every 8x8
    window fully inside the image (stride 1), averaged over windows, then over channels. The
    special cases follow the authors' img_qi.m: a window where both variances are 0 but the
    means are not scores 2 mean(x)mean(y)/(mean(x)^2+mean(y)^2); one where everything is 0
    scores 1. Window sums are exact integers, so there is no cancellation error.

    This is the figure to report. sewar's uqi puts window means where the formula needs window
    sums and reports much higher values; see uqi_sewar. Needs at least 8x8 pixels.
    """
    _check_pair(a, b, min_side=_UQI_WS)
    x = _channels_first(a, np.int64)
    y = _channels_first(b, np.int64)
    n = _UQI_WS * _UQI_WS
    c, height, width = x.shape
    q_sum = np.zeros(c)
    for rows in _window_strips(height, _UQI_WS):
        xs, ys = x[:, rows], y[:, rows]
        sums = _valid_box_sums(np.concatenate([xs, ys, xs * xs + ys * ys, xs * ys]), _UQI_WS)
        s_x, s_y, s_sq, s_xy = (sums[i * c : (i + 1) * c] for i in range(4))
        # Q in window sums: 4 (N Sxy - Sx Sy) Sx Sy / ((N (Sxx + Syy) - Sx^2 - Sy^2)(Sx^2 + Sy^2)).
        # Every term stays below 2^59 for 8x8 uint8 windows, so int64 holds it exactly.
        prod = s_x * s_y
        sums_sq = s_x * s_x + s_y * s_y
        numerator = 4 * (n * s_xy - prod) * prod
        var_term = n * s_sq - sums_sq
        denominator = var_term * sums_sq
        q = np.ones(denominator.shape, dtype=np.float64)
        flat = (var_term == 0) & (sums_sq != 0)
        q[flat] = 2.0 * prod[flat] / sums_sq[flat]
        ok = denominator != 0
        q[ok] = numerator[ok] / denominator[ok]
        q_sum += q.sum(axis=(1, 2))
    count = (height - _UQI_WS + 1) * (width - _UQI_WS + 1)
    return float(np.mean(q_sum / count))


def uqi_sewar(a: np.ndarray, b: np.ndarray) -> float:
    """sewar.full_ref.uqi(a, b) (ws=8), reproduced to the bit: an INFLATED compatibility figure.

    sewar evaluates the sums formula of Q with window *means* (scipy uniform_filter, 8x8,
    'reflect' borders, then a 4-pixel crop) while keeping the factor N=64, so the "covariance"
    term is dominated by 64*E[xy] and the index stays high for almost any pair (two different
    1024x1024 FFHQ faces: 0.487 here, 0.007 by the published definition, uqi()). Use it only to
    reproduce tables made with sewar; report uqi() as the UQI. Needs at least 9x9 pixels.
    """
    _check_pair(a, b, min_side=_UQI_WS + 1)
    x = _channels_first(a)
    y = _channels_first(b)
    return float(np.mean([_uqi_sewar_channel(x_c, y_c) for x_c, y_c in zip(x, y)]))


def _uqi_sewar_channel(x: np.ndarray, y: np.ndarray) -> float:
    """sewar's _uqi_single on one float64 HxW channel: the same filter calls and the same
    element-wise expression order, so the result has the same bits."""
    ws = _UQI_WS
    n = ws * ws
    m_x = ndimage.uniform_filter(x, ws)
    m_y = ndimage.uniform_filter(y, ws)
    m_xx = ndimage.uniform_filter(x * x, ws)
    m_yy = ndimage.uniform_filter(y * y, ws)
    m_xy = ndimage.uniform_filter(x * y, ws)
    prod = m_x * m_y
    sq_sum = m_x * m_x + m_y * m_y
    numerator = 4 * (n * m_xy - prod) * prod
    denominator1 = n * (m_xx + m_yy) - sq_sum
    denominator = denominator1 * sq_sum
    q = np.ones(denominator.shape)
    flat = np.logical_and(denominator1 == 0, sq_sum != 0)
    q[flat] = 2 * prod[flat] / sq_sum[flat]
    ok = denominator != 0
    q[ok] = numerator[ok] / denominator[ok]
    s = int(np.round(ws / 2))
    return float(q[s:-s, s:-s].mean())


# --------------------------------------------------------------------------------------------
# VIF-P


def vifp(a: np.ndarray, b: np.ndarray) -> float:
    """Pixel-domain visual information fidelity (Sheikh & Bovik 2006), sewar.vifp's conventions.

    Four scales with Gaussian windows of 17, 9, 5, 3 taps (sigma = taps/5), valid filtering and
    factor-2 subsampling between scales, visual-noise variance 2, the usual clamps of the
    reference code (EPS 1e-10). Per-channel score sum(num)/sum(den), averaged over channels.
    1 for identical images (up to ~1e-10), lower for distorted ones. Needs at least 41x41 pixels.
    """
    _check_pair(a, b, min_side=41)
    eps = 1e-10
    sigma_nsq = 2.0
    x = _channels_first(a)
    y = _channels_first(b)
    num = np.zeros(x.shape[0])
    den = np.zeros(x.shape[0])
    for scale in range(1, 5):
        taps = 2 ** (4 - scale + 1) + 1
        kernel = _gaussian_kernel_1d(taps, taps / 5.0)
        if scale > 1:
            x = _valid_gaussian(x, kernel)[:, ::2, ::2]
            y = _valid_gaussian(y, kernel)[:, ::2, ::2]
        n = x.shape[0]
        moments = _valid_gaussian(np.concatenate([x, y, x * x, y * y, x * y]), kernel)
        mu_x, mu_y, e_xx, e_yy, e_xy = (moments[i * n : (i + 1) * n] for i in range(5))
        var_x = np.maximum(e_xx - mu_x * mu_x, 0.0)
        var_y = np.maximum(e_yy - mu_y * mu_y, 0.0)
        cov = e_xy - mu_x * mu_y

        g = cov / (var_x + eps)
        sv_sq = var_y - g * cov
        # The clamps below are applied in the reference code's order.
        low_x = var_x < eps
        g[low_x] = 0.0
        sv_sq[low_x] = var_y[low_x]
        var_x[low_x] = 0.0
        low_y = var_y < eps
        g[low_y] = 0.0
        sv_sq[low_y] = 0.0
        neg = g < 0
        sv_sq[neg] = var_y[neg]
        g[neg] = 0.0
        sv_sq[sv_sq <= eps] = eps

        num += np.log10(1.0 + g * g * var_x / (sv_sq + sigma_nsq)).sum(axis=(1, 2))
        den += np.log10(1.0 + var_x / sigma_nsq).sum(axis=(1, 2))
    return float(np.mean(num / den))


# --------------------------------------------------------------------------------------------
# resizing and the registry


def match_size(img: np.ndarray, ref_shape: tuple[int, ...]) -> np.ndarray:
    """Bring `img` to the height and width of `ref_shape` (e.g. gt.shape) for scoring.

    A restorer's output often has another size than the ground truth (a 512 face crop, a x4
    upscale of a non-multiple size). This resizes it with Pillow's Lanczos filter (per channel,
    uint8 in and out); an image that already has the size is returned unchanged (same object).
    Resizing changes the scores a little, so report when it was needed.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError("match_size expects a uint8 HxW or HxWxC numpy array")
    if len(ref_shape) < 2 or int(ref_shape[0]) < 1 or int(ref_shape[1]) < 1:
        raise ValueError(f"ref_shape must start with a positive (height, width), got {ref_shape}")
    height, width = int(ref_shape[0]), int(ref_shape[1])
    if img.shape[:2] == (height, width):
        return img
    if img.ndim == 2:
        channels = [img]
    else:
        channels = [img[:, :, c] for c in range(img.shape[2])]
    resized = [
        np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((width, height), Image.LANCZOS))
        for c in channels
    ]
    return resized[0] if img.ndim == 2 else np.stack(resized, axis=2)


@dataclass(frozen=True)
class MetricInfo:
    """One registered metric: `function(gt, img) -> float`, or `function(img)` for a no-reference score.

    ``weights``: the pinned files a learned metric needs (fetched through models/hub.py when first used);
    ``licence``: their terms, shown where the metric is offered."""

    name: str
    function: Callable[..., float]
    higher_is_better: bool
    label: str
    reference: bool = True  # False: scores the image alone (NIQE), so it works without a ground truth
    weights: tuple[WeightsFile, ...] = ()
    licence: str = ""

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def score(self, gt: np.ndarray | None, img: np.ndarray) -> float:
        if not self.reference:
            return self.function(img)
        if gt is None:
            raise ValueError(f"{self.label} compares with a ground truth; none was given")
        return self.function(gt, img)


def _ssim_gaussian(a: np.ndarray, b: np.ndarray) -> float:
    return ssim(a, b, window="gaussian")


# The learned and no-reference scores live in their own modules (torch, weights); imported on first use.
def _lpips(a: np.ndarray, b: np.ndarray) -> float:
    from .perceptual import lpips_vgg

    return lpips_vgg(a, b)


def _identity(a: np.ndarray, b: np.ndarray) -> float:
    from .identity import identity_similarity

    return identity_similarity(a, b)


def _niqe(img: np.ndarray) -> float:
    """NIQE, or NaN for an image smaller than its two 96x96 blocks: one small image in a batch leaves a gap
    in the table instead of stopping the run (niqe.niqe itself raises)."""
    from .niqe import BLOCK, niqe

    if (img.shape[0] // BLOCK) * (img.shape[1] // BLOCK) < 2:
        return float("nan")
    return niqe(img)


METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("psnr", psnr, True, "PSNR (dB)"),
        MetricInfo("ssim", ssim, True, "SSIM (11x11 uniform, sewar)"),
        MetricInfo("ssim_gaussian", _ssim_gaussian, True, "SSIM (11x11 Gaussian, paper)"),
        MetricInfo("ms_ssim", ms_ssim, True, "MS-SSIM"),
        MetricInfo("uqi", uqi, True, "UQI (Wang & Bovik)"),
        MetricInfo("uqi_sewar", uqi_sewar, True, "UQI as sewar (inflated)"),
        MetricInfo("vifp", vifp, True, "VIF-P"),
        MetricInfo("lpips", _lpips, False, "LPIPS-VGG (lower is better)", weights=LPIPS_VGG.files,
                   licence=LPIPS_VGG.licence),
        MetricInfo("identity", _identity, True, "Identity (ArcFace cosine)", weights=ARCFACE.files,
                   licence=ARCFACE.licence),
        MetricInfo("niqe", _niqe, False, "NIQE (no reference, lower is better)", reference=False,
                   licence="NIQE release (LIVE, UT Austin): free use with its notice; see docs/metrics.md"),
    )
}
# What score_all computes when no names are given: the pixel metrics, which need no weights and no minimum
# size beyond their windows (the learned and no-reference scores are always asked for by name).
PIXEL_METRICS = ("psnr", "ssim", "ssim_gaussian", "ms_ssim", "uqi", "uqi_sewar", "vifp")


def metric_problem(name: str) -> str | None:
    """None when metric ``name`` can run now; otherwise which file is missing (or wrong) and how to provide it.

    Looks at the pinned files only (no network, no hashing of a cached file named after its pin)."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    info = METRICS[name]
    for weights in info.weights:
        status = hub.check(weights)
        if status.state in ("missing", "override-bad", "cached-bad"):
            return (f"{info.label} needs {weights.repo_id}/{weights.filename} ({status.reason}). "
                    f"{weights.offline_hint()}")
    return None


def available_metrics(names: Iterable[str]) -> list[str]:
    """The metrics among ``names`` that can run now (see metric_problem)."""
    return [n for n in names if metric_problem(n) is None]


def prepare_metrics(names: Iterable[str]) -> None:
    """Load the networks of the learned metrics among ``names`` now, so missing weights fail before any
    long work starts (raises hub.WeightsError naming the file)."""
    names = set(names)
    if "lpips" in names:
        from .perceptual import load_network as load_lpips

        load_lpips()
    if "identity" in names:
        from .identity import load_network as load_arcface

        load_arcface()


def score_all(
    gt: np.ndarray | None, img: np.ndarray, names: Iterable[str] | None = None
) -> dict[str, float]:
    """Score `img` against the ground truth `gt` with the named metrics (default: PIXEL_METRICS, in that
    order). Shapes must match; resize first with match_size if needed. ``gt`` may be None when every named
    metric is a no-reference one (NIQE)."""
    selected = list(PIXEL_METRICS) if names is None else list(names)
    unknown = [n for n in selected if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    if gt is not None:
        _check_pair(gt, img)
    scores = {}
    for name in selected:
        cancel.check()  # VIF-P on a large pair takes seconds: stop between metrics once a request is over
        scores[name] = METRICS[name].score(gt, img)
    return scores
