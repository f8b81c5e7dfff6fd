"""Frame sequences for the animation tab: StyleGAN2-ADA latent walks, repeated restoration runs,
and the timelines that show them (sheets: media/layout.py; GIF / MP4 writers: media/video_io.py).

Frames are numpy uint8 HxWx3 RGB arrays, the package's image contract. Latent paths are torch
tensors whose first axis is time. Nothing here owns a model: a generator `G` and a restoration
`step` are passed in, so every function is stateless between calls.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np
import torch

from ..guards import cancel
# Sheets live in media/layout.py and the GIF / MP4 writers in media/video_io.py; these names stay
# importable from here for existing callers.
from ..media.layout import as_size, check_frames, contact_sheet, fit_inside, frame_strip, resize_lanczos, stamp_label  # noqa: F401
from ..media.video_io import check_frame, gif_frame_duration_ms, write_gif, write_mp4  # noqa: F401

Progress = Callable[[float, str], None]
Scorer = Callable[[np.ndarray, np.ndarray], dict[str, float]]
FrameScorer = Callable[[np.ndarray], dict[str, float]]  # a no-reference score of one frame

INTERPOLATION_METHODS = ("linear", "slerp", "cubic")

# Below this sin(angle), slerp between two directions is numerically a lerp.
_SLERP_PARALLEL_EPS = 1e-4


# ---------------------------------------------------------------------------------------------
# Latent interpolation
# ---------------------------------------------------------------------------------------------

def seed_to_z(seed: int, z_dim: int) -> torch.Tensor:
    """The latent NVIDIA's generate.py draws for `seed`: RandomState(seed).randn(1, z_dim).

    Returned as a float64 [1, z_dim] tensor holding exactly those numbers; the mapping network
    casts it to float32, as the official code does.
    """
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim))


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """(1 - t) a + t b; written so that t = 0 gives a and t = 1 gives b exactly."""
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation along the last dimension (each vector of the last axis on its own).

    Between two vectors of equal norm every result has that norm. Nearly parallel vectors
    (sin of the angle < 1e-4) fall back to lerp, which is then accurate to ~1e-8; exactly
    opposite vectors have no unique great circle and also get lerp. `t` broadcasts against
    the leading dimensions (give it shape [..., 1]).
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(b.dtype).tiny)
    cos = (a_unit * b_unit).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    parallel = sin < _SLERP_PARALLEL_EPS
    safe_sin = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe_sin)
    wb = torch.where(parallel, t, torch.sin(t * omega) / safe_sin)
    return wa * a + wb * b


def cubic(
    p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor, t: torch.Tensor | float
) -> torch.Tensor:
    """Uniform Catmull-Rom segment from p1 (t=0) to p2 (t=1), with neighbours p0 and p3.

    The tangent at p1 is (p2 - p0) / 2, so consecutive segments join with equal velocity (C1).
    """
    t = torch.as_tensor(t, dtype=p1.dtype, device=p1.device)
    t2, t3 = t * t, t * t * t
    # Hermite-form weights of the four control points; at t=0 they are (0, 1, 0, 0).
    w0 = 0.5 * (-t + 2 * t2 - t3)
    w1 = 0.5 * (2 - 5 * t2 + 3 * t3)
    w2 = 0.5 * (t + 4 * t2 - 3 * t3)
    w3 = 0.5 * (-t2 + t3)
    return w0 * p0 + w1 * p1 + w2 * p2 + w3 * p3


def path_length(num_keyframes: int, frames_between: int, loop: bool) -> int:
    """Frames in interpolation_path: K keyframes, m = frames_between in-between frames per gap.

    Without loop: (K - 1)(m + 1) + 1 (every keyframe, the last one included).
    With loop:     K (m + 1)          (the gap from the last keyframe back to the first is
                                        filled too, and keyframe 0 is not repeated at the end).
    """
    if num_keyframes < 1:
        raise ValueError("need at least one keyframe")
    if frames_between < 0:
        raise ValueError(f"frames_between must be >= 0, got {frames_between}")
    steps = frames_between + 1
    return num_keyframes * steps if loop else (num_keyframes - 1) * steps + 1


def interpolation_path(
    keyframes: torch.Tensor,
    frames_between: int,
    method: Literal["linear", "slerp", "cubic"] = "cubic",
    loop: bool = True,
) -> torch.Tensor:
    """Interpolate keyframes [K, ...] into a path [F, ...] (F from `path_length`).

    Frame 0 is keyframe 0, and keyframe k sits at frame k (frames_between + 1), exactly.
    Without loop the path ends on the last keyframe. With loop it goes on towards keyframe 0
    and stops one step before it, so playing the frames in a loop is seamless; "cubic" then
    takes its neighbours with wrap-around, so the velocity is continuous across the seam too,
    as in NVlabs stylegan3's gen_video.py (which fits a cubic spline to tiled keyframes; this
    uses the local Catmull-Rom spline instead). Without loop the missing end neighbours are
    reflections (2 p0 - p1), so two keyframes give a straight, evenly paced line.
    Computed in the keyframes' dtype (at least float32).
    """
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"method must be one of {INTERPOLATION_METHODS}, got {method!r}")
    if keyframes.ndim < 1:
        raise ValueError("keyframes must have a leading keyframe axis")
    k = keyframes.shape[0]
    total = path_length(k, frames_between, loop)
    out_dtype = keyframes.dtype
    keys = keyframes.to(torch.promote_types(out_dtype, torch.float32))
    steps = frames_between + 1

    # Segment index and local t for every frame; the non-looped endpoint is appended after.
    frame = torch.arange(k * steps if loop else (k - 1) * steps, device=keys.device)
    seg, t = frame // steps, (frame % steps).to(keys.dtype) / steps
    t = t.reshape(-1, *([1] * (keys.ndim - 1)))
    a, b = keys[seg], keys[(seg + 1) % k]  # the modulo only matters for the looped last gap

    if method == "linear":
        path = lerp(a, b, t)
    elif method == "slerp":
        path = slerp(a, b, t)
    else:
        if loop:
            before, after = keys[(seg - 1) % k], keys[(seg + 2) % k]
        else:
            # Phantom neighbours beyond the ends, reflected through the end keyframes.
            padded = torch.cat([2 * keys[:1] - keys[1:2], keys, 2 * keys[-1:] - keys[-2:-1]]) if k > 1 else keys
            before, after = padded[seg], padded[seg + 3]
        path = cubic(before, a, b, after, t)

    if not loop:
        path = torch.cat([path, keys[-1:]])
    assert path.shape[0] == total
    return path.to(out_dtype)


# ---------------------------------------------------------------------------------------------
# StyleGAN2-ADA latent walk
# ---------------------------------------------------------------------------------------------

def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N,3,H,W] in [-1,1] -> [N,H,W,3] uint8, as generate.py: (x*127.5 + 128).clamp(0, 255), truncated."""
    images = images.float().permute(0, 2, 3, 1)
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def render_latent_walk(
    G: torch.nn.Module,
    seeds: Sequence[int],
    frames_between: int,
    space: Literal["z", "w"] = "w",
    method: Literal["linear", "slerp", "cubic"] = "cubic",
    psi: float = 0.7,
    loop: bool = True,
    noise_mode: Literal["const", "random", "none"] = "const",
    batch_size: int = 4,
    size: int | tuple[int, int] | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
    fast: bool = False,
    class_idx: int | None = None,
) -> list[np.ndarray]:
    """Render a walk through the latent space of a StyleGAN2-ADA generator, one uint8 frame each.

    seeds -> z (seed_to_z). In "z" space the z path is interpolated and every frame is mapped
    with truncation `psi`; in "w" space each keyframe z is mapped once and the w path is
    interpolated (what gen_video.py does; smoother, and slerp suits z better than w). Frames
    are synthesised `batch_size` at a time; `noise_mode="const"` keeps them from flickering.
    The frame count is path_length(len(seeds), frames_between, loop). `size` (int = square, or
    (width, height)) resizes the frames with Lanczos. `device` defaults to G's device.
    `fast` runs synthesis with channels_last inputs/weights and bfloat16 autocast; the mapping
    network always runs in float32 so keyframes stay exact. G is expected in eval mode.
    """
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    if not seeds:
        raise ValueError("give at least one seed")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else _model_device(G)
    out_size = as_size(size) if size is not None else None

    c_dim = int(getattr(G, "c_dim", 0))
    if c_dim > 0 and class_idx is None:
        raise ValueError("this generator is conditional: give class_idx")

    def labels(n: int) -> torch.Tensor:
        c = torch.zeros([n, c_dim], device=device)
        if c_dim > 0:
            c[:, class_idx] = 1
        return c

    if fast:
        # Value-preserving and idempotent; converts the weights once, later calls are no-ops.
        G.to(memory_format=torch.channels_last)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if fast else contextlib.nullcontext()

    frames: list[np.ndarray] = []
    with torch.inference_mode():
        z_keys = torch.cat([seed_to_z(int(s), int(G.z_dim)) for s in seeds]).to(device)
        if space == "z":
            path = interpolation_path(z_keys, frames_between, method, loop)
        else:
            w_keys = G.mapping(z_keys.float(), labels(len(seeds)), truncation_psi=psi)
            path = interpolation_path(w_keys, frames_between, method, loop)
        total = path.shape[0]
        for start in range(0, total, batch_size):
            cancel.check()
            chunk = path[start : start + batch_size]
            ws = G.mapping(chunk.float(), labels(chunk.shape[0]), truncation_psi=psi) if space == "z" else chunk
            with autocast:
                images = G.synthesis(ws, noise_mode=noise_mode)
            for image in images_to_uint8(images):
                frames.append(resize_lanczos(image, out_size) if out_size else image)
            if progress is not None:
                progress(len(frames) / total, f"frame {len(frames)}/{total}")
    return frames


# ---------------------------------------------------------------------------------------------
# Repeated runs (feedback loop)
# ---------------------------------------------------------------------------------------------

@dataclass
class RepeatedRunResult:
    """The frames of a feedback loop, with row k describing frame k (frame 0 is the input).

    sizes[k] is (height, width); seconds[k] is the time the k-th step took (0.0 for the input);
    scores_vs_input[k] / scores_vs_gt[k] are the scorer's output for frame k, resized to the
    reference's size, against the input / the ground truth (None without ground truth);
    scores_of_frame[k] are no-reference scores of frame k itself, at its own size (e.g. NIQE; empty
    dicts when none were asked for).
    """

    frames: list[np.ndarray]
    scores_vs_input: list[dict[str, float]]
    scores_vs_gt: list[dict[str, float]] | None
    sizes: list[tuple[int, int]]
    seconds: list[float]
    scores_of_frame: list[dict[str, float]] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))


def repeated_run(
    step: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    runs: int,
    score: Scorer | None = None,
    ground_truth: np.ndarray | None = None,
    progress: Progress | None = None,
    frame_score: FrameScorer | None = None,
) -> RepeatedRunResult:
    """Feed `step`'s output back into it `runs` times, starting from `image`.

    `score(reference, candidate)` returns named metrics; each frame is resized (Lanczos) to the
    reference's size first, so outputs that grow (an x4 upscaler) are still comparable. Without
    `score` the score lists are empty. `frame_score(frame)` returns no-reference scores of each frame
    as it is (no resize). The caller's `step` decides what happens to the size: an upscaler fed back
    unchanged grows the image geometrically.
    """
    check_frame(image, "image")
    if runs < 0:
        raise ValueError(f"runs must be >= 0, got {runs}")
    if ground_truth is not None:
        check_frame(ground_truth, "ground_truth")
        if score is None:
            raise ValueError("ground_truth needs a score function")

    def scores_against(reference: np.ndarray, frame: np.ndarray) -> dict[str, float]:
        assert score is not None
        return score(reference, resize_lanczos(frame, (reference.shape[1], reference.shape[0])))

    frames = [image]
    seconds = [0.0]
    vs_input: list[dict[str, float]] = []
    vs_gt: list[dict[str, float]] | None = [] if ground_truth is not None else None

    of_frame: list[dict[str, float]] = []

    def record(frame: np.ndarray) -> None:
        of_frame.append(frame_score(frame) if frame_score is not None else {})
        if score is not None:
            vs_input.append(scores_against(image, frame))
        if vs_gt is not None and ground_truth is not None:
            vs_gt.append(scores_against(ground_truth, frame))

    record(image)
    for k in range(1, runs + 1):
        cancel.check()
        start = time.perf_counter()
        out = step(frames[-1])
        seconds.append(time.perf_counter() - start)
        frames.append(check_frame(out, f"output of run {k}"))
        record(out)
        if progress is not None:
            progress(k / runs, f"run {k}/{runs}")
    sizes = [(f.shape[0], f.shape[1]) for f in frames]
    return RepeatedRunResult(frames, vs_input, vs_gt, sizes, seconds, of_frame)


def timeline_frames(
    frames: Sequence[np.ndarray], size: int | tuple[int, int] | None = None, label: bool = True, max_side: int = 512
) -> list[np.ndarray]:
    """Bring frames of different sizes to one display size, e.g. to write a repeated run as a GIF.

    Each frame is fitted inside `size` (int = square, or (width, height)) with Lanczos, keeping
    its aspect ratio, centred on black. By default the size is the largest frame's, scaled down
    so its longer side is at most `max_side`. With `label`, frame k is stamped "run k".
    """
    frames = check_frames(frames, same_size=False)
    if size is None:
        w = max(f.shape[1] for f in frames)
        h = max(f.shape[0] for f in frames)
        scale = min(1.0, max_side / max(w, h))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
    wh = as_size(size)
    out = [fit_inside(f, wh) for f in frames]
    return [stamp_label(f, f"run {k}") for k, f in enumerate(out)] if label else out
