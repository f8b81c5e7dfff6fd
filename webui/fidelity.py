"""CodeFormer's fidelity weight in the tabs: one box, shown only while a model that takes it is ticked.

One value restores once; several ("0, 0.5, 1") run a sweep: one result column per w, side by side, with
the network loaded once and each face encoded once. Repeated Run and Video take one value (`sweep=False`).
"""
from __future__ import annotations

from typing import Any, Sequence

import gradio as gr

import restorers
from restorers.pipelines import DEFAULT_FIDELITY, check_fidelity

from .jobs import ui

DEFAULT_TEXT = f"{DEFAULT_FIDELITY:g}"
MAX_WEIGHTS = 6  # columns per sweep in the app


def fidelity_models() -> set[str]:
    return {spec.name for spec in restorers.specs("face") if spec.fidelity}


def parse_fidelities(value: Any) -> list[float]:
    """'0.5', 0.7, '0, 0.5, 1' or [0, 1] -> checked weights (duplicates dropped); a gr.Error in words otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [DEFAULT_FIDELITY]
    parts: Sequence[Any] = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").split(",")
    weights: list[float] = []
    for part in parts:
        text = str(part).strip()
        if not text:
            continue
        try:
            w = check_fidelity(text)
        except ValueError as exc:
            raise gr.Error(f"Fidelity weight: {exc}. Give one value, or several separated by commas (e.g. 0, 0.5, 1).") from exc
        if w not in weights:
            weights.append(w)
    if len(weights) > MAX_WEIGHTS:
        raise gr.Error(f"Fidelity weight: at most {MAX_WEIGHTS} values per sweep here, got {len(weights)}.")
    return weights or [DEFAULT_FIDELITY]


def parse_fidelity(value: Any) -> float:
    """One weight (Repeated Run, Video: no sweep there); the same messages as parse_fidelities."""
    weights = parse_fidelities(value)
    if len(weights) > 1:
        raise gr.Error(f"Fidelity weight: give one value here, got {len(weights)} "
                       "(a sweep runs in Restore and Degrade & Measure).")
    return weights[0]


def fidelity_box(elem_id: str, sweep: bool = True) -> gr.Textbox:
    return gr.Textbox(
        DEFAULT_TEXT, label="CodeFormer fidelity weight w (0 = strongest restoration, 1 = most faithful)",
        info="One value, or several separated by commas for a side-by-side sweep, e.g. 0, 0.5, 1" if sweep
        else "One value in [0, 1], e.g. 0.7",
        visible=False, elem_id=elem_id,
    )


@ui
def show_fidelity(models: list[str] | str | None):
    """Visible only while a model with a fidelity weight is selected."""
    chosen = [models] if isinstance(models, str) else list(models or [])
    return gr.update(visible=any(m in fidelity_models() for m in chosen))
