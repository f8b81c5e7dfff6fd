"""The line under the Restore button: how long the ticked models will take for THIS photo on THIS server,
before the click (webui/costs.py estimates; restorers.analysis.budget holds the measured rates).

A whole photo's cost depends on how many faces it holds, so the upload is run through the face detector
once (in the job lane, when the detector's weights are here; a fraction of a second); without it the
estimate assumes the per-photo face cap and says so.
"""
from __future__ import annotations

import html
from typing import Any

import gradio as gr

import restorers
from restorers.analysis import budget

from . import costs
from .common import READY_STATES
from .jobs import ui

DETECTOR = "retinaface-mobilenet0.25"
SLOW_S = 60.0  # an option past this says so before the click


def count_faces(path: str | None) -> int | None:
    """How many faces the default detector finds in the photo; None when it cannot tell here (no photo, or
    the detector's weights are not here: nothing is downloaded for an estimate)."""
    if not path or restorers.weights_status(DETECTOR) not in READY_STATES:
        return None
    from restorers.pipelines import detect

    return len(detect(restorers.load_image(path).rgb))


def faces_cost(path: str | None, *_: Any) -> budget.Estimate:
    """Decoding the photo and one face detection (restore_tab.check_upload)."""
    return costs.preview(path) + budget.part("face detection", budget.DETECT_S * costs.factor())


def _title(name: str) -> str:
    try:
        return restorers.get_spec(name).title
    except restorers.UnknownModelError:
        return name


def _seconds(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    return f"about {budget.describe_seconds(seconds)}"


@ui
def estimate_html(image: str | None, models: list[str] | None, outscale: Any = 2.0, mode: str = "whole",
                  background: str = "auto", only_center_face: Any = False, fidelity: Any = None,
                  checkpoint: str | None = None, found: dict | None = None) -> str:
    """One line: the total and each model's seconds for this photo here; models over a minute are named."""
    faces = found.get("faces") if isinstance(found, dict) and found.get("image") == image else None
    per_model = costs.restore_by_model(image, models, outscale, mode, background, only_center_face, fidelity,
                                       faces)
    if not per_model:
        text = "Estimated time: add a photo and tick a model." if not image else "Estimated time: tick a model."
        return f'<p class="restore-estimate">{html.escape(text)}</p>'
    total = sum(estimate.seconds for _, estimate in per_model)
    items, slow = [], []
    face_models = set(restorers.available_models("face"))
    bg = budget.resolve_background(background)
    for name, estimate in per_model:
        words = f"{_title(name)} {_seconds(estimate.seconds)}"
        if name in face_models and mode == "whole" and bg not in (None, "none"):
            words += f" (with the {_title(bg)} background)"
        items.append(words)
        if estimate.seconds > SLOW_S:
            slow.append(f"{_title(name)} would take {_seconds(estimate.seconds).removeprefix('about ')}")
    where = "here" if faces is None or mode != "whole" else f"here ({faces} face{'' if faces == 1 else 's'} found)"
    text = f"Estimated {_seconds(total)} for this photo {where}: " + "; ".join(items) + "."
    if checkpoint:
        text += " Your checkpoint is not included."
    if faces is None and mode == "whole" and face_models & set(models or []):
        text += f" The faces were not counted, so up to {budget.assumed_faces()} are assumed."
    kind = "info"
    if slow:
        kind = "warn"
        text = "Over a minute: " + "; ".join(slow) + ". " + text
    return f'<p class="restore-estimate studio-{kind}">{html.escape(text)}</p>'
