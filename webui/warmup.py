"""Warm-up at start-up: the models the Restore tab will run first are loaded and run once on a small input
in a background thread, so a user's first click does not pay for reading weights, building networks and
the first-run costs of the math libraries.

Only models whose weights are already here are warmed (nothing is downloaded); at most as many networks
as the model cache keeps; the whole warm-up stops after $RESTORERS_WARMUP_S seconds (checked between
models). $RESTORERS_WARMUP=0 turns it off. The page never waits for it: the server starts at once. Jobs
do (jobs.py calls ``wait``), so a click that comes during the warm-up runs after it instead of beside it
on the same cores: the warm-up shares the one concurrency lane.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import restorers
from restorers.guards import limits

from .common import READY_STATES

log = logging.getLogger(__name__)
WARMUP_ENV = "RESTORERS_WARMUP"
WARMUP_S_ENV = "RESTORERS_WARMUP_S"
DEFAULT_WARMUP_S = 120.0
DETECTOR = "retinaface-mobilenet0.25"
SMALL_SIDE = 64  # the warm-up input: large enough to run every layer, small enough to cost well under a second


@dataclass
class WarmupState:
    """What the warm-up did (read by tests and the log); ``done`` is set when it has finished or was skipped."""

    names: list[str] = field(default_factory=list)
    warmed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


state = WarmupState()
state.done.set()  # nothing to wait for until start() runs


def enabled() -> bool:
    return os.environ.get(WARMUP_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def _ready(name: str) -> bool:
    try:
        return restorers.weights_status(name) in READY_STATES
    except restorers.UnknownModelError:
        return False


def warmup_names(models: list[str], background: str | None = None) -> list[str]:
    """The networks that can load here without a download: ``models`` and ``background`` first (what the
    page preselects), then the other ready face and SR models in registry order, at most as many as the
    model cache keeps; then the face detector (the Restore tab counts the faces of every photo for its
    estimate; it has its own cache). Baselines (no network) are left out."""
    from restorers.models import cache_size

    wanted = [*models, *([background] if background else []), *restorers.available_models("face", "sr")]
    names = [n for n in dict.fromkeys(wanted) if n in restorers.available_models("sr", "face") and _ready(n)]
    return names[: cache_size()] + ([DETECTOR] if _ready(DETECTOR) else [])


def warm(name: str) -> None:
    """Load ``name``'s network and run it once on a small input (the face detector: one detection)."""
    rgb = np.random.default_rng(0).integers(0, 256, (SMALL_SIDE, SMALL_SIDE, 3), dtype=np.uint8)
    if name == DETECTOR:
        from restorers.pipelines import detect

        detect(rgb)
        return
    restorer = restorers.load(name)
    if restorer.spec.family == "face":
        size = restorer.spec.input_size or SMALL_SIDE
        restorer.restore_crops(np.zeros((1, size, size, 3), np.uint8))  # type: ignore[attr-defined]
    else:
        restorer.restore(rgb)


def run(names: list[str], seconds: float | None = None) -> WarmupState:
    """Warm ``names`` one after the other in this thread; stops when ``seconds`` (default: limit_s()) have passed."""
    allowed = limit_s() if seconds is None else seconds
    began = time.monotonic()
    try:
        for name in names:
            if time.monotonic() - began > allowed:
                log.warning("warm-up stopped after %.0f s (%s=%g): %s left cold", time.monotonic() - began,
                            WARMUP_S_ENV, allowed, ", ".join(n for n in names if n not in state.warmed))
                break
            try:
                warm(name)
                state.warmed.append(name)
            except Exception as exc:  # noqa: BLE001 - a model that fails here reports itself when used
                state.failed[name] = f"{type(exc).__name__}: {exc}"
                log.warning("warm-up of %s failed: %s", name, exc)
    finally:
        state.seconds = time.monotonic() - began
        log.info("warm-up: %s in %.1f s", ", ".join(state.warmed) or "nothing", state.seconds)
        state.done.set()
    return state


def start(models: list[str], background: str | None = None) -> threading.Thread | None:
    """Warm the ready ones among ``models`` (and ``background``, and the detector) in a daemon thread and
    return at once; None when there is nothing to do or $RESTORERS_WARMUP=0."""
    names = warmup_names(models, background) if enabled() else []
    state.names = names
    if not names:
        return None
    state.warmed.clear()
    state.failed.clear()
    state.done.clear()
    thread = threading.Thread(target=run, args=(names,), name="restorers-warmup", daemon=True)
    thread.start()
    return thread


def limit_s() -> float:
    return limits.setting(WARMUP_S_ENV, DEFAULT_WARMUP_S)


def wait(timeout: float | None = None) -> bool:
    """Block until the warm-up has finished (at most ``timeout`` seconds, default its time limit plus a
    minute for the model it was warming when the limit passed); True when it has."""
    return state.done.wait(limit_s() + 60.0 if timeout is None else timeout)
