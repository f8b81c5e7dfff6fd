"""Cost estimators for the app's handlers: each takes the handler's own arguments and returns a
restorers.analysis.budget.Estimate on this server's device. Sizes are read from file headers only (nothing is
decoded here); an input that cannot be read costs nothing here and is reported by the handler itself.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Sequence

from restorers import media
from restorers.analysis import budget
from restorers.models import cpu_supports_bf16, pick_device, resolve_precision

FALLBACK_SIZE = (512, 512)


@functools.lru_cache(maxsize=1)
def factor() -> float:
    """This server's device relative to the 2-core CPU the constants were measured on."""
    device = pick_device()
    return budget.device_factor(device.type, bf16=resolve_precision(device) != "fp32" and (
        device.type != "cpu" or cpu_supports_bf16()))


def image_size(path: str | None) -> tuple[int, int] | None:
    return media.header_size(path) if path else None


def upload_sizes(files: Sequence[str] | str | None) -> list[tuple[int, int]]:
    """Sizes of every image the batch reader would decode (restorers.media.batch_sizes: the same zip test,
    the same member filter, headers only)."""
    if not files:
        return []
    if isinstance(files, (str, Path)):
        files = [str(files)]
    return media.batch_sizes([str(getattr(path, "name", path)) for path in files])


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number and abs(number) != float("inf") else default


def sweep_passes(models: Sequence[str], fidelity: Any) -> dict[str, int]:
    """model -> results per image: a CodeFormer fidelity sweep ("0, 0.5, 1") makes one per weight."""
    from .fidelity import fidelity_models, parse_fidelities

    try:
        count = len(parse_fidelities(fidelity))
    except Exception:  # noqa: BLE001 - a bad weight: the handler reports it
        count = 1
    sweeping = fidelity_models()
    return {m: count for m in models if m in sweeping}


def restore(image: str | None, models: Sequence[str] | None, outscale: float = 2.0, mode: str = "whole",
            background: str = "lanczos", only_center_face: Any = False, min_face: Any = 0, threshold: Any = 0.9,
            blend: Any = 1.0, fidelity: Any = None, checkpoint: Any = None, mask: Any = None, *_: Any,
            **__: Any) -> budget.Estimate:
    size = image_size(image)
    models = [m for m in models or [] if isinstance(m, str)]
    own = _file_bytes(checkpoint)
    if size is None or not (models or own is not None):
        return budget.Estimate()
    faces = 1 if only_center_face is True else None
    estimate = budget.restore_cost(size, models, _number(outscale, 2.0), mode=mode, background=background,
                                   faces=faces, passes=sweep_passes(models, fidelity),
                                   mask=mask if mask in ("parse", "square") else None)
    if own is not None:  # your checkpoint: one more column, costed from its file size
        estimate = estimate + budget.own_checkpoint_cost(own, size[0], size[1], _number(outscale, 2.0), mode=mode,
                                                         background=background, faces=faces)
    return estimate.scaled(factor())


def _file_bytes(path: Any) -> int | None:
    """The size of an uploaded file, or None when there is none."""
    path = getattr(path, "name", path)
    if not isinstance(path, (str, Path)) or not str(path):
        return None
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


def evaluate(files: Any, spec: str, seed: Any = 0, models: Sequence[str] | None = None,
             metrics: Sequence[str] | None = None, face_mode: str = "aligned", fidelity: Any = None,
             *_: Any, **__: Any) -> budget.Estimate:
    from restorers.analysis import DEFAULT_METRICS

    sizes = upload_sizes(files)
    names = [m for m in (models or []) if isinstance(m, str)]
    try:
        return budget.evaluate_cost(sizes, spec or "", names, list(metrics or DEFAULT_METRICS),
                                    face_mode=face_mode, factor=factor(), passes=sweep_passes(names, fidelity))
    except ValueError:
        return budget.Estimate()  # a bad spec: the handler reports it


def degrade(files: Any, spec: str, *_: Any, **__: Any) -> budget.Estimate:
    sizes = upload_sizes(files)[:1]  # the preview degrades the first image only
    try:
        return budget.degrade_only_cost(sizes, spec or "", factor=factor())
    except ValueError:
        return budget.Estimate()


def loop(image: str | None, model: str | None, runs: Any = 10, scale: Any = 1.0, ground_truth: str | None = None,
         *_: Any, **__: Any) -> budget.Estimate:
    size = image_size(image)
    if size is None or not model:
        return budget.Estimate()
    runs_n = int(max(0, min(_number(runs, 1), 1000)))
    from restorers.analysis import loop_metrics

    return budget.loop_cost(size, model, runs_n, _number(scale, 1.0), ground_truth=bool(ground_truth),
                            metrics=loop_metrics((size[1], size[0])), factor=factor())


def interpolate(model: str | None, custom_pickle: str | None = None, seeds: str = "", frames_between: Any = 24,
                interpolation: str = "", psi: Any = 0.7, loop: Any = True, fps: Any = 24, size: Any = 256, *_: Any, **__: Any) -> budget.Estimate:
    from restorers.analysis import path_length

    count = count_seeds(seeds)
    if count is None:
        return budget.Estimate()
    try:
        frames = path_length(count, int(_number(frames_between, 0)), bool(loop))
    except ValueError:
        return budget.Estimate()
    # The built-in generator is FFHQ 1024; an uploaded pickle is scaled by its file size against that one.
    pickle_bytes = _file_size(custom_pickle) if custom_pickle else None
    return budget.walk_cost(frames, 1024, int(_number(size, 256)) or None, factor=factor(), pickle_bytes=pickle_bytes)


def _file_size(path: Any) -> int | None:
    try:
        return os.path.getsize(str(path))
    except (OSError, TypeError, ValueError):
        return None  # unreadable: the handler says so


def count_seeds(text: Any, cap: int = 1000) -> int | None:
    """How many seeds "1,2,10-14" names, counted without expanding ranges (a huge range costs nothing
    here); None when unreadable or over ``cap`` (the handler gives the message)."""
    count = 0
    for part in str(text or "").replace(" ", "").split(","):
        if not part:
            continue
        low, sep, high = part.partition("-") if not part.startswith("-") else (part, "", "")
        try:
            count += abs(int(high) - int(low)) + 1 if sep else len([int(part)])
        except ValueError:
            return None
        if count > cap:
            return None
    return count or None


def preview(path: str | None, *_: Any, **__: Any) -> budget.Estimate:
    """Decoding one upload for a preview: bounded by the pixel limit, costed as a resize."""
    size = image_size(path)
    if size is None:
        return budget.Estimate()
    return budget.part("decoding the preview", budget.RESIZE_S_PER_MP * size[0] * size[1] / 1e6).scaled(factor())


def restore_by_model(image: str | None, models: Sequence[str] | None, outscale: Any = 2.0, mode: str = "whole",
                     background: str = "auto", only_center_face: Any = False, fidelity: Any = None,
                     faces: int | None = None) -> list[tuple[str, budget.Estimate]]:
    """The Restore action's estimate split by model (a face model in whole mode includes its background),
    for this photo: ``faces`` found in it (None: unknown, the pessimistic cap), networks already in memory
    cost no loading. Empty when there is no readable photo or no model."""
    from restorers.models import cached_networks

    size = image_size(image)
    names = [m for m in (models or []) if isinstance(m, str)]
    if size is None or not names:
        return []
    if only_center_face is True:
        faces = 1 if faces is None else min(faces, 1)
    loaded = {name for name, _ in cached_networks()}
    passes = sweep_passes(names, fidelity)
    return [(m, budget.restore_cost(size, [m], _number(outscale, 2.0), mode=mode, background=background,
                                    faces=faces, factor=factor(), passes=passes, loaded=loaded)) for m in names]
