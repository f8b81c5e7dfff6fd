"""Repeated run: feed a model's output back to it N times and record how the image drifts.

The original study ran one blurred face through GPEN and Real-ESRGAN ten times each, Real-ESRGAN with
an output scale of 1.1 per run. Growth is capped: a frame whose longer side would pass ``max_side`` is
scaled down to it (Lanczos), so thirty runs at x1.1 stay within memory.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..media import images
from .animate import RepeatedRunResult, repeated_run
from .metrics import METRICS, metric_problem, prepare_metrics, score_all
from ..pipelines.restorer import DEFAULT_FIDELITY, FACE_MODES, check_fidelity, make_restorer
from ..guards.validate import check_choice, check_int, check_number

MAX_RUNS = 30
DEFAULT_MAX_SIDE = 2048
LOOP_METRICS = ("ssim", "psnr", "uqi")
# No-reference scores worth adding when the frames are large enough (NIQE: two 96x96 blocks).
LOOP_NO_REFERENCE = ("niqe",)


def loop_metrics(shape: tuple[int, ...]) -> list[str]:
    """What the app scores a repeated run with: SSIM, PSNR and UQI against the input (and the ground truth);
    ArcFace identity too when its weights are here or downloadable (identity drift is what repeated
    restoration is watched for; ~0.6 s per comparison); and NIQE of every frame when the start image
    (height, width) holds two 96x96 blocks (frames never shrink below the start size unless the scale per run
    is under 1, and then NIQE of a too-small frame is NaN). LPIPS costs ~14 s per megapixel compared, so it
    is left to an explicit ``metrics`` list (API, CLI --metrics)."""
    height, width = shape[:2]
    identity = ["identity"] if metric_problem("identity") is None else []
    return [*LOOP_METRICS, *identity, *(LOOP_NO_REFERENCE if (height // 96) * (width // 96) >= 2 else ())]


def run_loop(
    model: str,
    image: np.ndarray,
    runs: int = 10,
    scale: float = 1.0,
    *,
    ground_truth: np.ndarray | None = None,
    metrics: Sequence[str] = LOOP_METRICS,
    face_mode: str = "aligned",
    max_side: int = DEFAULT_MAX_SIDE,
    device: str | None = None,
    precision: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    fidelity: float = DEFAULT_FIDELITY,
) -> RepeatedRunResult:
    """Run ``model`` ``runs`` times on its own output, each run at output scale ``scale``.

    ``metrics``: full-reference ones score every frame against the input (and the ground truth);
    no-reference ones (NIQE) score each frame alone, in ``scores_of_frame``, so a real photo with no
    ground truth still gets a quality curve.
    ``fidelity``: CodeFormer's weight w in [0, 1], the same for every run; other models ignore it."""
    if isinstance(metrics, str):
        raise ValueError(f"metrics must be a list of metric names, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    paired = [m for m in metrics if METRICS[m].reference]
    alone = [m for m in metrics if not METRICS[m].reference]
    prepare_metrics(metrics)
    runs = check_int("runs", runs, 1, MAX_RUNS)
    scale = float(check_number("scale per run", scale, 0.25, 4.0))
    face_mode = check_choice("face mode", face_mode, FACE_MODES)
    fidelity = check_fidelity(fidelity)  # checked for every model, so a bad value never passes silently
    restorer = make_restorer(model, device, precision)
    options: dict = {"outscale": scale}
    if restorer.spec.family == "face":
        options.update(mode=face_mode, fidelity=fidelity)

    def step(frame: np.ndarray) -> np.ndarray:
        out = restorer.restore(frame, **options).image
        longest = max(out.shape[:2])
        if longest > max_side:
            factor = max_side / longest
            out = images.resize(out, images.scaled_size(out.shape[1], out.shape[0], factor), "lanczos")
        return out

    def score(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
        return score_all(reference, candidate, paired)

    def frame_score(frame: np.ndarray) -> dict[str, float]:
        return score_all(None, frame, alone)

    return repeated_run(step, images.as_rgb(image), runs, score, ground_truth, progress,
                        frame_score if alone else None)
