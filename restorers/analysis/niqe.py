"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, IEEE SPL 2013): a no-reference
score, so it rates a restored photo that has no ground truth. Lower is better (more like a pristine natural
photo).

This follows the authors' MATLAB release (niqe_release: computequality.m, computefeature.m,
estimateaggdparam.m) step by step, vectorised over blocks with numpy/scipy:

1. RGB -> grey with MATLAB's rgb2gray (rounded back to 0..255), as double;
2. crop to whole 96x96 blocks;
3. at two scales (the image, then MATLAB's imresize(im, 0.5): bicubic with antialiasing):
   MSCN coefficients with a 7x7 Gaussian (sigma 7/6, replicate borders, C = 1), and per block 18 features:
   an asymmetric generalised Gaussian (AGGD) fit of the coefficients (alpha, mean of the two scales) and of
   their products with the right, lower, lower-right and lower-left neighbours (wrapping inside the block:
   MATLAB circshift) (alpha, mean, left and right scale each);
4. a multivariate Gaussian fitted to the 36-dimensional block features (NaN-aware mean, covariance over the
   complete rows, N-1) and its distance to the pristine model:
   sqrt((mu_p - mu_d) pinv((cov_p + cov_d) / 2) (mu_p - mu_d)').

The pristine model (mu 36, cov 36x36) is the release's modelparameters.mat, shipped with this package in
data/niqe_pristine.npz (see data/NIQE_NOTICE.txt for where it came from and its licence).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage, sparse
from scipy.special import gamma

__all__ = ["BLOCK", "NiqeModel", "load_pristine_model", "niqe", "niqe_features", "rgb_to_gray_matlab",
           "resize_half_matlab"]

BLOCK = 96  # block side at the first scale (the release's recommended 96x96, no overlap)
PRISTINE_FILE = Path(__file__).resolve().parent / "data" / "niqe_pristine.npz"
_FEATURES = 36

# MATLAB rgb2gray's weights: the first row of the inverse of the NTSC (YIQ) matrix.
_GRAY_WEIGHTS = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]]))[0]
# estimateaggdparam.m's search grid for the shape parameter, and its ratio function (increasing in alpha).
_ALPHAS = 0.2 + 0.001 * np.arange(9801)
_RATIOS = gamma(2.0 / _ALPHAS) ** 2 / (gamma(1.0 / _ALPHAS) * gamma(3.0 / _ALPHAS))
# Neighbour shifts (rows, columns) of computefeature.m, applied with wrap-around inside each block.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class NiqeModel:
    """A multivariate Gaussian over the 36 NIQE features: ``mu`` (36,) and ``cov`` (36, 36)."""

    mu: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        if self.mu.shape != (_FEATURES,) or self.cov.shape != (_FEATURES, _FEATURES):
            raise ValueError(f"a NIQE model needs mu of shape (36,) and cov of shape (36, 36), "
                             f"got {self.mu.shape} and {self.cov.shape}")
        if not (np.all(np.isfinite(self.mu)) and np.all(np.isfinite(self.cov))):
            raise ValueError("a NIQE model must hold finite numbers")


def load_pristine_model(path: str | Path | None = None) -> NiqeModel:
    """The pristine model: the packaged one by default, or a file holding the same numbers.

    Accepted files: the MATLAB release's modelparameters.mat (mu_prisparam, cov_prisparam), BasicSR's
    niqe_pris_params.npz (mu_pris_param, cov_pris_param) and this package's .npz (mu, cov).
    """
    if path is None:
        return _packaged_model()
    return _read_model(Path(path))


@lru_cache(maxsize=1)
def _packaged_model() -> NiqeModel:
    if not PRISTINE_FILE.is_file():
        raise FileNotFoundError(f"the NIQE pristine model {PRISTINE_FILE} is missing from this installation; "
                                "reinstall the package")
    return _read_model(PRISTINE_FILE)


def _read_model(path: Path) -> NiqeModel:
    names = (("mu", "cov"), ("mu_pris_param", "cov_pris_param"), ("mu_prisparam", "cov_prisparam"))
    try:
        if path.suffix.lower() == ".mat":
            from scipy.io import loadmat

            data = dict(loadmat(str(path)))
        else:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable NIQE model ({type(exc).__name__}: {exc})") from exc
    for mu_key, cov_key in names:
        if mu_key in data and cov_key in data:
            mu = np.asarray(data[mu_key], dtype=np.float64).reshape(-1)
            cov = np.asarray(data[cov_key], dtype=np.float64)
            return NiqeModel(mu, cov)
    raise ValueError(f"{path} holds no NIQE model: expected one of the key pairs {names}, found {sorted(data)}")


# --------------------------------------------------------------------------------------------
# MATLAB building blocks


def rgb_to_gray_matlab(image: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray on a uint8 image: the weighted sum rounded half away from zero, as float64.
    A HxW image is returned as float64 unchanged."""
    if image.ndim == 2:
        return image.astype(np.float64)
    weighted = image[..., :3].astype(np.float64) @ _GRAY_WEIGHTS
    return np.clip(np.floor(weighted + 0.5), 0, 255)


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize's bicubic kernel (a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


@lru_cache(maxsize=32)
def _half_matrix(length: int) -> sparse.csr_matrix:
    """The (ceil(length/2), length) matrix of imresize(..., 0.5) along one axis: the bicubic kernel widened
    by 2 (antialiasing), weights normalised per output sample, indices mirrored at the borders."""
    scale = 0.5
    out_len = int(np.ceil(length * scale))
    width = 4.0 / scale
    x = np.arange(1, out_len + 1) / scale + 0.5 * (1.0 - 1.0 / scale)  # output centres in input coordinates
    left = np.floor(x - width / 2.0)
    taps = int(np.ceil(width)) + 2
    index = left[:, None] + np.arange(taps)[None, :]  # 1-based, as MATLAB
    weights = scale * _cubic(scale * (x[:, None] - index))
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(length), np.arange(length - 1, -1, -1)])
    columns = mirror[np.mod(index.astype(np.int64) - 1, 2 * length)]
    rows = np.repeat(np.arange(out_len), taps)
    return sparse.csr_matrix((weights.ravel(), (rows, columns.ravel())), shape=(out_len, length))


def resize_half_matlab(image: np.ndarray) -> np.ndarray:
    """MATLAB imresize(image, 0.5) of a float HxW array (default bicubic, antialiasing on), rows then columns."""
    rows = _half_matrix(image.shape[0]) @ image
    return np.asarray((_half_matrix(image.shape[1]) @ rows.T).T)


def _gaussian_7() -> np.ndarray:
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * (7.0 / 6.0) ** 2))
    return g / g.sum()  # the 7x7 window is the outer product of this; fspecial's cutoff never applies here


def _mscn(image: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients, imfilter(..., 'replicate') = scipy 'nearest'."""
    kernel = _gaussian_7()

    def blur(x: np.ndarray) -> np.ndarray:
        return ndimage.correlate1d(ndimage.correlate1d(x, kernel, axis=0, mode="nearest"), kernel, axis=1,
                                   mode="nearest")

    mu = blur(image)
    sigma = np.sqrt(np.abs(blur(image * image) - mu * mu))
    return (image - mu) / (sigma + 1.0)


def _aggd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """estimateaggdparam.m on every row of ``values`` (blocks x samples): (alpha, left scale, right scale).

    A row without negative or without positive samples gives NaN scales (MATLAB's mean of nothing), and
    alpha 0.2 where the ratio itself is NaN (MATLAB's min over all-NaN returns the first index)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        squares = values * values
        negative, positive = values < 0, values > 0
        left = np.sqrt((squares * negative).sum(axis=1) / negative.sum(axis=1))
        right = np.sqrt((squares * positive).sum(axis=1) / positive.sum(axis=1))
        ratio = left / right
        rhat = np.abs(values).mean(axis=1) ** 2 / squares.mean(axis=1)
        rhatnorm = rhat * (ratio**3 + 1.0) * (ratio + 1.0) / (ratio**2 + 1.0) ** 2
    alpha = _ALPHAS[_nearest_ratio(rhatnorm)]
    factor = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, left * factor, right * factor


def _nearest_ratio(targets: np.ndarray) -> np.ndarray:
    """argmin over the grid of (ratio - target)^2, the first index on a tie, 0 for NaN (as MATLAB's min)."""
    upper = np.clip(np.searchsorted(_RATIOS, np.nan_to_num(targets, nan=-np.inf)), 1, _RATIOS.size - 1)
    lower = upper - 1
    pick_upper = (_RATIOS[upper] - targets) ** 2 < (_RATIOS[lower] - targets) ** 2
    best = np.where(pick_upper, upper, lower)
    return np.where(np.isnan(targets), 0, best)


def _block_features(mscn: np.ndarray, side: int) -> np.ndarray:
    """computefeature.m for every side x side block of ``mscn``: (blocks, 18)."""
    rows, cols = mscn.shape[0] // side, mscn.shape[1] // side
    blocks = mscn.reshape(rows, side, cols, side).transpose(0, 2, 1, 3).reshape(rows * cols, side, side)
    columns = []
    alpha, left, right = _aggd(blocks.reshape(len(blocks), -1))
    columns += [alpha, (left + right) / 2.0]
    for shift in _SHIFTS:
        pairs = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        alpha, left, right = _aggd(pairs)
        mean = (right - left) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        columns += [alpha, mean, left, right]
    return np.stack(columns, axis=1)


def niqe_features(image: np.ndarray) -> np.ndarray:
    """The (blocks, 36) feature matrix of a uint8 HxW or HxWx3 image (rows may hold NaN, see _aggd)."""
    gray = rgb_to_gray_matlab(image)
    rows, cols = gray.shape[0] // BLOCK, gray.shape[1] // BLOCK
    gray = gray[: rows * BLOCK, : cols * BLOCK]
    scales = []
    for scale in (1, 2):
        scales.append(_block_features(_mscn(gray), BLOCK // scale))
        if scale == 1:
            gray = resize_half_matlab(gray)
    return np.concatenate(scales, axis=1)


def niqe(image: np.ndarray, model: NiqeModel | None = None) -> float:
    """NIQE of a uint8 RGB (HxWx3) or grey (HxW) image; lower is better. Needs two whole 96x96 blocks
    (at least 96x192 or 192x96 pixels); ``model`` defaults to the packaged pristine model."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"NIQE needs a uint8 numpy image, got {getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"NIQE needs an HxW or HxWx3 image, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    blocks = (image.shape[0] // BLOCK) * (image.shape[1] // BLOCK)
    if blocks < 2:
        raise ValueError(f"NIQE needs at least two whole {BLOCK}x{BLOCK} blocks (e.g. {BLOCK}x{2 * BLOCK} "
                         f"pixels); this image is {image.shape[1]}x{image.shape[0]}")
    model = model or load_pristine_model()
    features = niqe_features(image)
    complete = features[~np.isnan(features).any(axis=1)]
    if len(complete) < 2:
        raise ValueError("NIQE is undefined for this image: fewer than two of its blocks have any texture "
                         "(flat areas give no statistics)")
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(features, axis=0)
    cov = np.cov(complete, rowvar=False)
    pooled = (model.cov + cov) / 2.0
    # MATLAB pinv's tolerance: max(size) * norm * eps, i.e. relative to the largest singular value.
    inverse = np.linalg.pinv(pooled, rcond=max(pooled.shape) * np.finfo(np.float64).eps)
    delta = model.mu - mu
    return float(np.sqrt(max(delta @ inverse @ delta, 0.0)))
