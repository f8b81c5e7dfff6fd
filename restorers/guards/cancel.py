"""Cooperative cancellation: a per-request deadline that long loops check between units of work.

Python cannot stop a thread from outside, so the engine stops itself: the loops that can run long
(tiles, faces, evaluation images and models, repeated runs, walk frames, degradation steps, metrics)
call ``check()`` between units. Outside a request there is no deadline and ``check()`` costs one
context-variable lookup. The app sets a deadline per request (a time limit plus a "has the client gone?"
probe); the CLI and the Python API set none, so they run as before unless the caller opts in.

    with cancel.deadline(seconds=600, is_cancelled=client_gone):
        restorer.restore(image)          # raises cancel.Cancelled at the next check once either fires
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator


class Cancelled(Exception):
    """Work was stopped on purpose: past its time limit, or its client went away.

    Deliberately not a RuntimeError/ValueError: the engine's per-model "record the failure and go on"
    handlers must let it through, so one check stops the whole request rather than one model.
    """


@dataclass
class Deadline:
    """When a request must stop: ``expires`` (time.monotonic seconds) and/or an ``is_cancelled`` probe."""

    expires: float | None = None
    is_cancelled: Callable[[], bool] | None = None
    limit_s: float | None = None  # the limit as asked, for the message

    def remaining(self) -> float | None:
        return None if self.expires is None else self.expires - time.monotonic()

    def check(self) -> None:
        if self.is_cancelled is not None and self.is_cancelled():
            _count("disconnected")
            raise Cancelled("Stopped: the request was cancelled or its client disconnected.")
        if self.expires is not None and time.monotonic() > self.expires:
            _count("time_limit")
            raise Cancelled(f"Stopped: this request passed its time limit of {self.limit_s:g} s. "
                            "Try a smaller image, fewer models or fewer frames.")


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("restorers_deadline", default=None)
_lock = threading.Lock()
# How many requests were stopped, by reason; the tests (and a curious operator) read it.
stopped: dict[str, int] = {"disconnected": 0, "time_limit": 0}


def _count(reason: str) -> None:
    with _lock:
        stopped[reason] = stopped.get(reason, 0) + 1


def current() -> Deadline | None:
    return _current.get()


def check() -> None:
    """Raise ``Cancelled`` if the current request's deadline has passed or its client has gone."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check()


@contextlib.contextmanager
def use(current_deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make an existing deadline current for the body (a generator handler re-enters it on every step)."""
    token = _current.set(current_deadline)
    try:
        yield current_deadline
    finally:
        _current.reset(token)


def make(seconds: float | None = None, is_cancelled: Callable[[], bool] | None = None) -> Deadline:
    """A deadline ``seconds`` from now (None or <= 0: no time limit), with an optional cancellation probe."""
    limit = seconds if seconds and seconds > 0 else None
    return Deadline(None if limit is None else time.monotonic() + limit, is_cancelled, limit)


@contextlib.contextmanager
def deadline(seconds: float | None = None, is_cancelled: Callable[[], bool] | None = None) -> Iterator[Deadline]:
    """Run the body under a deadline (``seconds`` None or <= 0: no time limit). Nested deadlines replace
    the outer one for the body's duration, so keep one per request."""
    with use(make(seconds, is_cancelled)) as current_deadline:
        yield current_deadline  # type: ignore[misc]
