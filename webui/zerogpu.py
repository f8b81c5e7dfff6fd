"""ZeroGPU (Hugging Face's shared GPUs): run each action's work inside ``@spaces.GPU(duration=...)``.

`spaces` is optional: it is preinstalled on every Space and is NOT in requirements.txt, so a local install
never needs it. The decorator is applied only on a ZeroGPU Space (``SPACES_ZERO_GPU`` set, as the platform
does) and only when `spaces` imports; on a CPU Space, a dedicated GPU or a laptop nothing changes.

On ZeroGPU the decorated function runs in a forked worker that holds the GPU for the asked duration;
arguments and results are pickled across. So: weights are loaded outside it (``preload`` at start-up;
ZeroGPU keeps them on the CPU until a GPU call and moves them then), the duration comes from the budget
estimator scaled to the GPU (``restorers.analysis.budget.gpu_duration``), and the request's time limit travels in as
a number, since a contextvar does not cross the fork.
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
from typing import Any, Callable

from restorers.guards import cancel

log = logging.getLogger(__name__)
ZERO_GPU_ENV = "SPACES_ZERO_GPU"
TIME_LEFT_KWARG = "_restorers_time_left_s"  # how the time limit reaches the GPU worker
QUOTA_HELP = ("This Space runs its models on Hugging Face's shared ZeroGPU, and the GPU time available to you "
              "is used up for now. Try again later, log in to Hugging Face for a larger quota, or run the app "
              "yourself (see the README): it works on any CPU or GPU.")


def enabled() -> bool:
    """True on a ZeroGPU Space with the `spaces` package importable."""
    if os.environ.get(ZERO_GPU_ENV, "").lower() not in ("1", "t", "true"):
        return False
    try:
        import spaces  # noqa: F401
    except ImportError:
        log.warning("%s is set but the `spaces` package is missing: running without ZeroGPU", ZERO_GPU_ENV)
        return False
    return True


def _inside(fn: Callable) -> Callable:
    """``fn`` with the request's time limit re-created inside the GPU worker (plain or generator function)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_inner(*args: Any, **kwargs: Any):
            deadline = cancel.make(kwargs.pop(TIME_LEFT_KWARG)) if TIME_LEFT_KWARG in kwargs else cancel.current()
            iterator = fn(*args, **kwargs)
            while True:
                with cancel.use(deadline):
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                yield item
        return gen_inner

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any):
        if TIME_LEFT_KWARG not in kwargs:  # called from inside another job: its deadline stays
            return fn(*args, **kwargs)
        with cancel.deadline(kwargs.pop(TIME_LEFT_KWARG)):
            return fn(*args, **kwargs)
    return inner


def wrap(fn: Callable, duration: Callable[..., float]) -> Callable:
    """``spaces.GPU(duration=...)(fn)`` on ZeroGPU, else ``fn`` itself.

    ``duration`` gets the handler's arguments and returns seconds. The returned callable accepts an extra
    keyword, TIME_LEFT_KWARG (seconds left before the request's time limit), on the ZeroGPU path only.
    """
    if not enabled():
        return fn
    import spaces

    def gpu_seconds(*args: Any, **kwargs: Any) -> int:
        kwargs.pop(TIME_LEFT_KWARG, None)
        return int(duration(*args, **kwargs))

    decorated = spaces.GPU(duration=gpu_seconds)(_inside(fn))
    decorated.zero_gpu = True  # type: ignore[attr-defined]
    return decorated


WORKER_HELP = ("The GPU worker stopped before the result came back; most often the work ran past the GPU time "
               "reserved for it. Try a smaller image, fewer models or fewer frames.")


def is_quota_error(exc: BaseException) -> bool:
    """spaces raises gr.Error titled 'ZeroGPU quota exceeded' (or '... pending credits exceeded') when the
    visitor's or the Space's GPU time is used up."""
    title = str(getattr(exc, "title", "") or "")
    text = f"{title} {getattr(exc, 'message', exc)}"
    return title.startswith("ZeroGPU") and ("quota" in text or "credits" in text or "GPU limit" in text)


def is_worker_error(exc: BaseException) -> bool:
    """spaces' 'ZeroGPU worker error' (the forked GPU worker died or was stopped at the end of its duration)."""
    return str(getattr(exc, "title", "") or "").startswith("ZeroGPU worker")


PRELOAD_ENV = "RESTORERS_PRELOAD"
DEFAULT_PRELOAD = "realesr-general-x4v3,realesrgan-x2plus,gfpgan-v1.4,gpen-bfr-512"


def preload_names() -> list[str]:
    """$RESTORERS_PRELOAD (comma-separated model names; "none" for none), else the Restore tab's usual models."""
    raw = os.environ.get(PRELOAD_ENV, DEFAULT_PRELOAD)
    return [] if raw.strip().lower() == "none" else [n.strip() for n in raw.split(",") if n.strip()]


def preload(names: list[str]) -> list[str]:
    """Load these models' weights now (outside any GPU call), so a GPU call only moves them; returns the
    names loaded. A model whose weights cannot be had is skipped: it reports itself when used."""
    import restorers

    loaded = []
    for name in names:
        try:
            restorer = restorers.load(name)
            if restorer.spec.needs_weights:
                restorer.network  # noqa: B018 - loads and caches on restorer.device (cuda, patched by spaces)
            loaded.append(name)
        except (restorers.WeightsError, restorers.UnknownModelError, RuntimeError, ValueError) as exc:
            log.warning("ZeroGPU preload skipped %s: %s", name, exc)
    return loaded
