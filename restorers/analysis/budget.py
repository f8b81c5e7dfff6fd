"""What a request will cost, estimated from its inputs before anything runs.

Pure functions: sizes, model names, counts in; an ``Estimate`` (seconds, with the parts that make it up)
out. The constants are seconds on the machine the benchmarks in docs/benchmarks.md were measured on (2 shared cores,
AVX512-BF16, the fast path), i.e. a free 2-vCPU Hugging Face Space; ``device_factor`` scales them to
another device (about 3x slower on a CPU without bf16, ``RESTORERS_GPU_FACTOR`` on CUDA). The app refuses
a request whose estimate passes ``RESTORERS_REQUEST_BUDGET_S`` (``check``), and ZeroGPU asks for a GPU
slot as long as ``gpu_duration`` says.

Estimates are deliberately pessimistic where the input does not tell (a whole photo is assumed to hold
the maximum number of faces), since refusing a little early is better than blocking the queue for an hour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Collection, Iterable, Mapping, Sequence

from ..guards import limits

# --- constants (seconds on the 2-core benchmark CPU, fast path) -------------------------------------------
# Super-resolution networks: seconds per INPUT megapixel. realesrgan-x4plus: the 2048x2048 run
# through the engine (81 tiles of 256, about 15 min: 215 s/MP; 512x512 tiled gave 158 s/MP); the others
# are their 512 px (general-x4v3) or 256 px (x2plus) benchmark rates with the same tiling overhead (x1.35).
SR_S_PER_MP = {"realesrgan-x4plus": 215.0, "realesrgan-x2plus": 50.0, "realesr-general-x4v3": 13.0}
SR_DEFAULT_S_PER_MP = 215.0  # an SR model not in the table (e.g. a user checkpoint): assume the heaviest
SR_OUT_S_PER_MP = 0.2  # float -> uint8 and the resize to the asked scale, per OUTPUT megapixel
# Face networks: seconds per aligned face (network call plus align and paste back).
FACE_S = {"gpen-bfr-512": 1.0, "gpen-bfr-256": 0.1, "gfpgan-v1.4": 1.3, "gfpgan-v1.3": 1.3,
          "codeformer": 2.5,  # codeformer: per fidelity weight (bf16 fast path, 512 px)
          # The same network at one fixed weight (colourisation w=0, no fusion; inpainting w=1, 3 fusions).
          "codeformer-colorization": 2.5, "codeformer-inpainting": 2.5}
FACE_DEFAULT_S = 2.0
DETECT_S = 0.1  # RetinaFace on one photo (runs on a copy at most 1600 px long)
# The 'parse' paste-back mask: ParseNet at 512 px per face, fp32 (234.5 GMAC; bf16 would move its labels).
# Measured as 1.7x GPEN-512's fast-path call in the same process (benchmarks/bench_paste.py, loaded CPU).
PARSE_S = 1.7
RESIZE_S_PER_MP = 0.05  # Pillow Lanczos/bicubic, per OUTPUT megapixel
MODEL_LOAD_S = 2.0  # reading and verifying a checkpoint the first time (per model and request, pessimistic)
# Metrics: seconds per megapixel of one comparison (docs/benchmarks.md, metrics table, 1024x1024).
# lpips: VGG16 in float32 over both images, 1224 GFLOP per megapixel compared (torch.utils.flop_counter); a 4 s
# floor at this CPU's ~0.3 TFLOP/s fp32 and 3.5x that measured (docs/metrics.md). niqe: 0.23 s at 1024x1024.
METRIC_S_PER_MP = {"psnr": 0.011, "ssim": 0.124, "ms_ssim": 0.29, "uqi_sewar": 0.334, "uqi": 0.114, "vifp": 1.08,
                   "lpips": 14.0, "niqe": 0.25, "identity": 0.05}
METRIC_DEFAULT_S_PER_MP = 1.0
# Seconds per comparison whatever the size: identity aligns both faces to 112x112 and runs an IResNet-50 twice
# (2 x 12 GFLOP) after RetinaFace found the face on the ground truth (remembered per ground truth).
METRIC_S_FIXED = {"identity": 0.6}
# Reading and verifying a learned metric's weights, once per process (VGG16 553 MB, IResNet-50 175 MB).
METRIC_LOAD_S = {"lpips": 3.0, "identity": 1.5}
# Degradation steps: seconds per INPUT megapixel (measured at 1024x1024 on the same machine).
DEGRADE_S_PER_MP = {"stackblur": 0.2, "gaussian": 0.12, "downscale": 0.02, "noise": 0.1, "poisson": 0.33,
                    "jpeg": 0.02, "realesrgan": 0.65}
DEGRADE_DEFAULT_S_PER_MP = 0.65
# StyleGAN2-ADA: seconds per frame at the generator's resolution (FFHQ 1024: 4.7 s measured; 256: 0.11 s).
GENERATOR_S_PER_FRAME_1024 = 4.7
WRITE_S_PER_FRAME_MP = 0.05  # GIF (palette) + MP4 encoding, per frame megapixel
CPU_FP32_FACTOR = 3.0  # the constants are bf16 fast-path times; fp32 was 2-3.6x slower in the benchmark


class BudgetError(limits.LimitError):
    """A request's estimated cost passes the configured budget."""


@dataclass(frozen=True)
class Estimate:
    """Estimated seconds of a request, with (what, seconds) parts for the message."""

    seconds: float = 0.0
    parts: tuple[tuple[str, float], ...] = field(default=())

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.seconds + other.seconds, self.parts + other.parts)

    def scaled(self, factor: float) -> "Estimate":
        return Estimate(self.seconds * factor, tuple((what, s * factor) for what, s in self.parts))

    def largest(self, count: int = 3) -> list[tuple[str, float]]:
        merged: dict[str, float] = {}
        for what, seconds in self.parts:
            merged[what] = merged.get(what, 0.0) + seconds
        return sorted(merged.items(), key=lambda item: -item[1])[:count]


def part(what: str, seconds: float) -> Estimate:
    return Estimate(seconds, ((what, seconds),))


def total(estimates: Iterable[Estimate]) -> Estimate:
    result = Estimate()
    for estimate in estimates:
        result = result + estimate
    return result


def _mp(width: float, height: float) -> float:
    return max(width, 1) * max(height, 1) / 1e6


def _family(name: str) -> str | None:
    from ..models.registry import UnknownModelError, get_spec

    try:
        return get_spec(name).family
    except (UnknownModelError, ValueError):
        return None  # the run itself will report the unknown name; it costs nothing here


def spec_scale(name: str) -> int | None:
    from ..models.registry import UnknownModelError, get_spec

    try:
        return get_spec(name).scale
    except (UnknownModelError, ValueError):
        return None


def device_factor(device: str = "cpu", bf16: bool = True, override: float | None = None) -> float:
    """How much longer than the measured CPU fast path this device takes (a GPU: much less than 1)."""
    if override is not None:
        return override
    if device.startswith("cuda"):
        return limits.gpu_factor()
    return 1.0 if bf16 else CPU_FP32_FACTOR


def assumed_faces(faces: int | None = None) -> int:
    """Faces a whole photo is budgeted for: the given count, capped; unknown: the cap (pessimistic)."""
    cap = limits.max_faces() or 64
    return cap if faces is None else min(faces, cap)


# --- one model on one image ---------------------------------------------------------------------------------

def uses_parse_mask(mask: str | None) -> bool:
    """Whether whole-photo pastes will parse each face: asked for, or the default with the parser's weights here."""
    if mask is not None:
        return mask == "parse"
    from ..pipelines.face_mask import parser_ready

    try:
        return parser_ready()
    except Exception:  # noqa: BLE001 - an estimate must not fail; assume the dearer path
        return True


def resolve_background(background: str | None) -> str | None:
    """'auto' -> the model whole-photo mode would use here (registry.default_background); others unchanged."""
    from ..models.registry import AUTO_BACKGROUND, default_background

    return default_background() if background == AUTO_BACKGROUND else background


def model_cost(name: str, width: int, height: int, outscale: float = 2.0, *, mode: str = "aligned",
               background: str | None = "lanczos", faces: int | None = None, passes: int = 1,
               mask: str | None = None, loaded: Collection[str] = ()) -> Estimate:
    """One model restoring one ``width`` x ``height`` image to ``outscale``; ``passes``: how many times a face
    model restores each face (a CodeFormer fidelity sweep of N weights: N); ``mask``: the paste-back mask
    of whole-photo face restoration (None: the default, 'parse' when its weights are here); ``loaded``: models
    whose network is already in memory (no loading cost)."""
    out_mp = _mp(width * outscale, height * outscale)
    family = _family(name)
    load = 0.0 if name in loaded else MODEL_LOAD_S
    if family == "baseline":
        return part(name, RESIZE_S_PER_MP * out_mp)
    if family == "sr":
        rate = SR_S_PER_MP.get(name, SR_DEFAULT_S_PER_MP)
        native_mp = _mp(width * (spec_scale(name) or 4), height * (spec_scale(name) or 4))
        return part(name, load + rate * _mp(width, height) + SR_OUT_S_PER_MP * max(native_mp, out_mp))
    if family == "face":
        per_face = FACE_S.get(name, FACE_DEFAULT_S)
        if mode != "whole":
            return part(name, load + per_face * passes + RESIZE_S_PER_MP * out_mp * passes)
        count = assumed_faces(faces)
        cost = part(name, load + DETECT_S + per_face * count * passes)
        if uses_parse_mask(mask):
            cost = cost + part("face parsing (parse mask)", PARSE_S * count * passes)
        background = resolve_background(background)
        if background and background != "none":
            cost = cost + model_cost(background, width, height, outscale, loaded=loaded)
        return cost
    return Estimate()


# Your own checkpoint: its architecture is not known before it is read, so it is costed from its file size
# as the dearer of an SR network and a face network. The SR rate is per input megapixel and per million
# parameters (RRDBNet x4plus: 215 s/MP for 16.7 M, general-x4v3: 13 s/MP for 1.2 M: about 11-13), with
# the parameters taken as file bytes / 2 (fp16, the pessimistic reading).
OWN_SR_S_PER_MP_PER_MPARAM = 13.0


def own_checkpoint_cost(file_bytes: int, width: int, height: int, outscale: float = 2.0, *, mode: str = "whole",
                        background: str | None = "lanczos", faces: int | None = None) -> Estimate:
    """A user's checkpoint on one ``width`` x ``height`` image: the larger of its SR and face readings."""
    params_m = max(file_bytes, 0) / 2 / 1e6
    sr = MODEL_LOAD_S + OWN_SR_S_PER_MP_PER_MPARAM * params_m * _mp(width, height) \
        + SR_OUT_S_PER_MP * _mp(width * 4, height * 4)
    count = 1 if mode != "whole" else assumed_faces(faces)
    face = MODEL_LOAD_S + DETECT_S + FACE_DEFAULT_S * count
    if mode == "whole" and background and background != "none":
        face += model_cost(background, width, height, outscale).seconds
    return part("your checkpoint", max(sr, face))


def degraded_size(spec: str, width: int, height: int) -> tuple[int, int]:
    """The size a degradation spec leaves (downscale and the Real-ESRGAN chain shrink the image)."""
    from .degrade import parse_degradation

    for step in parse_degradation(spec).steps:
        factor = 1.0
        if step.kind == "downscale" and "restore" not in step.options:
            factor = float(step.value or 1.0)
        elif step.kind == "realesrgan":
            factor = float(step.value or 4)
        width, height = max(1, round(width / factor)), max(1, round(height / factor))
    return width, height


def degrade_cost(spec: str, width: int, height: int) -> Estimate:
    from .degrade import parse_degradation

    estimate = Estimate()
    for step in parse_degradation(spec).steps:
        estimate = estimate + part(f"degrade {step.kind}", DEGRADE_S_PER_MP.get(step.kind, DEGRADE_DEFAULT_S_PER_MP)
                                   * _mp(width, height))
        width, height = degraded_size(str(step), width, height)
    return estimate


def metrics_cost(metrics: Sequence[str], width: int, height: int, comparisons: int = 1) -> Estimate:
    """``comparisons`` scorings of a ``width`` x ``height`` image by each metric (loading excluded)."""
    return total(part(f"metric {m}", (METRIC_S_PER_MP.get(m, METRIC_DEFAULT_S_PER_MP) * _mp(width, height)
                                      + METRIC_S_FIXED.get(m, 0.0)) * comparisons)
                 for m in metrics)


def metrics_load_cost(metrics: Sequence[str]) -> Estimate:
    """Loading the learned metrics' networks (once per request, pessimistically: once per process in fact)."""
    return total(part(f"metric {m}", METRIC_LOAD_S[m]) for m in metrics if m in METRIC_LOAD_S)


def _no_reference(metric: str) -> bool:
    from .metrics import METRICS

    return metric in METRICS and not METRICS[metric].reference


# --- one request per action ---------------------------------------------------------------------------------

def restore_cost(size: tuple[int, int], models: Sequence[str], outscale: float = 2.0, *, mode: str = "whole",
                 background: str | None = "lanczos", faces: int | None = None, factor: float = 1.0,
                 passes: Mapping[str, int] | None = None, mask: str | None = None,
                 loaded: Collection[str] = ()) -> Estimate:
    """The Restore action: every model on one image (``size`` = (width, height)); ``passes``: model -> how
    many results it makes (a fidelity sweep), 1 when absent; ``mask``: the paste-back mask (see model_cost);
    ``loaded``: networks already in memory."""
    width, height = size
    passes = passes or {}
    background = resolve_background(background)
    face_models = [m for m in models if _family(m) == "face"]
    # Whole photos: the face models of one run share one SR background (pipelines.SharedBackground).
    shared = (mode == "whole" and len(face_models) > 1 and bool(background) and background != "none"
              and _family(str(background)) == "sr")
    costs = [model_cost(m, width, height, outscale, mode=mode, faces=faces, passes=passes.get(m, 1), mask=mask,
                        background=None if shared and m in face_models else background, loaded=loaded)
             for m in models]
    if shared:
        costs.append(model_cost(str(background), width, height, outscale, loaded=loaded))
    return total(costs).scaled(factor)


def evaluate_cost(sizes: Sequence[tuple[int, int]], degradation: str, models: Sequence[str],
                  metrics: Sequence[str], *, face_mode: str = "aligned", factor: float = 1.0,
                  passes: Mapping[str, int] | None = None) -> Estimate:
    """Degrade -> restore with every model -> score every column, for each ground truth (``passes`` as in
    restore_cost: a model with N passes adds N columns)."""
    passes = passes or {}
    columns = sum(passes.get(m, 1) for m in models)
    estimate = metrics_load_cost(metrics)
    for width, height in sizes:
        small = degraded_size(degradation, width, height)
        outscale = width / small[0]
        estimate = estimate + degrade_cost(degradation, width, height)
        estimate = estimate + metrics_cost(metrics, width, height, comparisons=1 + columns)
        for model in models:
            n = passes.get(model, 1)
            estimate = estimate + model_cost(model, small[0], small[1], outscale, mode=face_mode, passes=n)
            estimate = estimate + part(model, RESIZE_S_PER_MP * _mp(width, height) * n)  # match_size
    return estimate.scaled(factor)


def loop_cost(size: tuple[int, int], model: str, runs: int, scale: float, *, metrics: Sequence[str] = ("ssim", "psnr", "uqi"),
              ground_truth: bool = False, max_side: int = 2048, face_mode: str = "aligned",
              factor: float = 1.0) -> Estimate:
    """A repeated run: each run restores the previous output (growing by ``scale``, capped at ``max_side``)."""
    width, height = size
    comparisons = 2 if ground_truth else 1
    paired = [m for m in metrics if not _no_reference(m)]
    alone = [m for m in metrics if _no_reference(m)]  # scored once per frame, at the frame's own size
    estimate = metrics_load_cost(metrics)
    for _ in range(max(0, int(runs))):
        estimate = estimate + model_cost(model, width, height, scale, mode=face_mode)
        width, height = width * scale, height * scale
        longest = max(width, height)
        if longest > max_side:
            width, height = width * max_side / longest, height * max_side / longest
        estimate = estimate + metrics_cost(paired, size[0], size[1], comparisons)
        estimate = estimate + metrics_cost(alone, round(width), round(height))
    return estimate.scaled(factor)


# NVIDIA's FFHQ 1024 network pickle (G, D and G_ema) is about this large; an uploaded pickle's cost is scaled
# by its size against it (its header is not read to estimate: that is the loader's job, under its own limits).
FFHQ_1024_PICKLE_BYTES = 360e6


def walk_cost(frames: int, resolution: int = 1024, size: int | None = 256, factor: float = 1.0,
              pickle_bytes: int | None = None) -> Estimate:
    """A StyleGAN2-ADA walk of ``frames`` frames from a generator of ``resolution`` px, written at ``size``;
    ``pickle_bytes``: an uploaded network's file size (a smaller network costs proportionally less, never
    more than the FFHQ 1024 one)."""
    per_frame = GENERATOR_S_PER_FRAME_1024 * (resolution / 1024) ** 2
    if pickle_bytes is not None:
        per_frame *= min(1.0, max(pickle_bytes, 1) / FFHQ_1024_PICKLE_BYTES)
    side = size or resolution
    return (part("generator", MODEL_LOAD_S + per_frame * frames)
            + part("writing GIF and MP4", WRITE_S_PER_FRAME_MP * _mp(side, side) * frames)).scaled(factor)


def degrade_only_cost(sizes: Sequence[tuple[int, int]], degradation: str, factor: float = 1.0) -> Estimate:
    return total(degrade_cost(degradation, w, h) for w, h in sizes).scaled(factor)


# --- decisions ----------------------------------------------------------------------------------------------

def describe_seconds(seconds: float) -> str:
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def check(estimate: Estimate, budget_s: float | None = None, what: str = "This request",
          raise_with: str | None = None) -> Estimate:
    """Return ``estimate`` if it fits ``budget_s`` (default: $RESTORERS_REQUEST_BUDGET_S; 0 = no budget);
    otherwise raise BudgetError saying what costs most and how to make it fit (``raise_with``: which setting
    raises the budget, in words)."""
    budget = limits.request_budget_s() if budget_s is None else budget_s
    if budget and estimate.seconds > budget:
        biggest = ", ".join(f"{what_} about {describe_seconds(s)}" for what_, s in estimate.largest())
        raise BudgetError(
            f"{what} would take about {describe_seconds(estimate.seconds)} of work here, more than this server's "
            f"budget of {describe_seconds(budget)} per request ({biggest}). Use a smaller image, fewer models, "
            f"images, metrics, runs or frames; {raise_with or 'when you run the app yourself, raise $' + limits.REQUEST_BUDGET_ENV}."
        )
    return estimate


def gpu_duration(estimate: Estimate, minimum: float | None = None, maximum: float | None = None) -> int:
    """Seconds to ask ZeroGPU for: the (GPU-scaled) estimate plus start-up, clamped to [minimum, maximum]."""
    low = limits.zerogpu_min_s() if minimum is None else minimum
    high = limits.zerogpu_max_s() if maximum is None else maximum
    return int(math.ceil(min(max(low + estimate.seconds, low), max(high, low))))
