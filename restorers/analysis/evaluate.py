"""Degrade -> restore -> score: the measuring instrument behind the Degrade & Measure tab and
``python -m restorers evaluate``.

For each clean image: apply a seeded degradation, restore the degraded image with every model, bring
each output to the ground truth's size (Lanczos, see ``metrics.match_size``) and score it. The degraded
image itself is scored too, as the baseline column (a smaller one enlarged by nearest neighbour: as received,
nothing restored).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..guards import cancel
from ..media import images
from .degrade import parse_degradation
from .metrics import METRICS, available_metrics, match_size, prepare_metrics, score_all
from ..models.registry import MASK_CHOICES
from ..pipelines.restorer import DEFAULT_FIDELITY, FACE_MODES, check_fidelity, fidelity_label, make_restorer
from ..media.uploads import unique_names
from ..guards.validate import ParameterError, check_choice, check_int

BASELINE = "degraded"
DEFAULT_METRICS = ("ssim", "psnr", "uqi", "uqi_sewar", "ms_ssim")
# Offered beside them where they can run (LPIPS and identity need their pinned weights; NIQE ships with us).
PERCEPTUAL_METRICS = ("lpips", "identity", "niqe")


def suggested_metrics() -> list[str]:
    """What a page preselects: the defaults, plus the perceptual scores whose weights are here or downloadable."""
    return [*DEFAULT_METRICS, *available_metrics(PERCEPTUAL_METRICS)]
Progress = Callable[[float, str], None]


@dataclass
class ImageScores:
    image: str
    column: str  # 'degraded' or a model name
    scores: dict[str, float]
    seconds: float = 0.0
    resized: bool = False  # the output had another size and was resized to the ground truth's


@dataclass
class Evaluation:
    degradation: str
    seed: int
    metrics: list[str]
    columns: list[str]
    rows: list[ImageScores] = field(default_factory=list)
    outputs: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (image, column) -> pixels
    failures: dict[str, str] = field(default_factory=dict)  # model -> error message
    skipped: list[str] = field(default_factory=list)  # one note per ground truth that could not be used

    def values(self, column: str, metric: str) -> list[float]:
        return [r.scores[metric] for r in self.rows if r.column == column]

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """metric -> column -> (mean, standard deviation over the images)."""
        table: dict[str, dict[str, tuple[float, float]]] = {}
        for metric in self.metrics:
            table[metric] = {}
            for column in self.columns:
                values = np.array(self.values(column, metric), dtype=np.float64)
                if values.size:
                    # NaN: not defined for that image (NIQE on one smaller than two 96x96 blocks); left out.
                    known = values[~np.isnan(values)]
                    finite = known[np.isfinite(known)]
                    if not known.size:
                        table[metric][column] = (math.nan, 0.0)
                        continue
                    mean = float(known.mean()) if finite.size == known.size else math.inf
                    table[metric][column] = (mean, float(finite.std()) if finite.size else 0.0)
        return table

    def markdown(self, digits: int = 4) -> str:
        """The study's layout: one row per metric, one column per input/model, mean (± std for batches)."""
        summary = self.summary()
        batch = len({r.image for r in self.rows}) > 1
        header = "| metric | " + " | ".join(self.columns) + " |"
        lines = [header, "|" + "---|" * (len(self.columns) + 1)]
        for metric in self.metrics:
            cells = []
            for column in self.columns:
                if column not in summary[metric]:
                    cells.append("-")
                    continue
                mean, std = summary[metric][column]
                cells.append(f"{mean:.{digits}g}" + (f" ± {std:.2g}" if batch else ""))
            lines.append(f"| {METRICS[metric].label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def csv(self) -> str:
        """Long format: one line per (image, column, metric); ``better`` says the metric's direction
        (higher or lower); NIQE's value scores the column's image alone (no reference)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["image", "column", "metric", "value", "seconds", "resized_to_ground_truth", "better"])
        for row in self.rows:
            for metric in self.metrics:
                better = "higher" if METRICS[metric].higher_is_better else "lower"
                writer.writerow([row.image, row.column, metric, f"{row.scores[metric]:.6f}", f"{row.seconds:.3f}",
                                 row.resized, better])
        return buffer.getvalue()


def evaluate(
    ground_truths: Sequence[tuple[str, np.ndarray]],
    degradation: str,
    models: Sequence[str],
    *,
    seed: int = 0,
    metrics: Sequence[str] = DEFAULT_METRICS,
    face_mode: str = "aligned",
    device: str | None = None,
    precision: str | None = None,
    keep_outputs: bool = False,
    progress: Progress | None = None,
    fidelities: Sequence[float] | None = None,
    mask: str | None = None,
) -> Evaluation:
    """Score ``models`` on ``ground_truths`` degraded by ``degradation`` (e.g. 'stackblur:8').

    Each model restores to the ground truth's scale (outscale = gt width / degraded width). A model that
    cannot run (missing weights, ...) is recorded in ``failures`` and the others still run.
    ``fidelities``: CodeFormer's weights w; several give one column each, e.g. 'codeformer (w=0.5)'
    (each face encoded once for all of them); None means the default 0.5. ``mask``: face models in 'whole'
    mode paste back with 'parse' or 'square'; None: 'parse' when the face-parsing weights are here.
    """
    spec = parse_degradation(degradation)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    face_mode = check_choice("face mode", face_mode, FACE_MODES)
    if mask is not None:
        mask = check_choice("mask", mask, MASK_CHOICES)
    if isinstance(models, str) or not all(isinstance(m, str) for m in models):
        raise ParameterError("models must be a list of model names")
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
        raise ParameterError("metrics must be a list of metric names")
    # Two uploads called a.png must not share a row or an output: the second becomes a-2.png.
    ground_truths = list(zip(unique_names(n for n, _ in ground_truths), (gt for _, gt in ground_truths)))
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    if not ground_truths:
        raise ValueError("no ground-truth images to evaluate")
    prepare_metrics(metrics)  # a learned metric without its weights fails here, before any model runs
    restorers = {name: make_restorer(name, device, precision) for name in models}
    ws = [check_fidelity(w) for w in (fidelities or [DEFAULT_FIDELITY])]

    def columns_of(model: str) -> list[str]:
        if restorers[model].spec.fidelity and len(ws) > 1:
            return [fidelity_label(model, w) for w in ws]
        return [model]

    result = Evaluation(str(spec), seed, list(metrics), [BASELINE, *[c for m in models for c in columns_of(m)]])
    steps = len(ground_truths) * (1 + len(models))
    done = 0
    for name, gt in ground_truths:
        try:
            degraded = spec.apply(gt, seed)
        except ValueError as exc:  # e.g. too small for the degradation: skip it, keep the others
            result.skipped.append(f"{name}: {exc}; skipped")
            done += 1 + len(restorers)
            continue
        # The baseline is the degraded image as received: a smaller one is enlarged by nearest neighbour
        # (pixels repeated, nothing restored); with Lanczos it would equal the Lanczos column exactly.
        _add(result, name, BASELINE, gt, degraded, 0.0, keep_outputs, enlarge="nearest")
        done += 1
        for model, restorer in restorers.items():
            cancel.check()
            if progress:
                progress(done / steps, f"{name}: {model}")
            done += 1
            if model in result.failures:
                continue
            options: dict = {"outscale": gt.shape[1] / degraded.shape[1]}
            if restorer.spec.family == "face":
                options["mode"] = face_mode
                if face_mode == "whole":
                    options["mask"] = mask
            try:
                if len(columns_of(model)) > 1:
                    outputs = restorer.restore_sweep(degraded, ws, **options)
                else:
                    outputs = [restorer.restore(degraded, **options, fidelity=ws[0])]
            except (RuntimeError, ValueError) as exc:
                result.failures[model] = str(exc)
                continue
            for column, restored in zip(columns_of(model), outputs):
                _add(result, name, column, gt, restored.image, restored.seconds, keep_outputs)
    failed = {c for m in result.failures if m in restorers for c in columns_of(m)} | set(result.failures)
    result.columns = [c for c in result.columns if c not in failed]
    if progress:
        progress(1.0, "done")
    return result


def _add(result: Evaluation, image: str, column: str, gt: np.ndarray, output: np.ndarray, seconds: float, keep: bool,
         enlarge: str = "lanczos") -> None:
    resized = output.shape[:2] != gt.shape[:2]
    if resized and enlarge != "lanczos":
        output = images.resize(output, (gt.shape[1], gt.shape[0]), enlarge)
    matched = match_size(output, gt.shape)
    result.rows.append(ImageScores(image, column, score_all(gt, matched, result.metrics), seconds, resized))
    if keep:
        result.outputs[(image, column)] = matched
