"""Every action of the app goes through ``@job``: a budget check before it runs, a time limit and a
"client gone?" probe while it runs, ZeroGPU when the Space has it, and errors turned into clear messages.

Opting a handler in is one line::

    @job(costs.restore)          # costs.restore(*handler_args) -> restorers.analysis.budget.Estimate
    def run_restore(image, models, ...):

and ``share_lane(demo)`` (called once in app.py) puts every queued event into one concurrency lane, so a
restore, an evaluation, a preview and an Examples click never run beside each other on a small Space.
Cheap UI-only events (a dropdown filling a slider) can stay out of that lane with ``@ui``.
"""
from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
import time
from typing import Any, Callable

import gradio as gr

import restorers
from restorers.analysis import budget
from restorers.guards import cancel, limits

from . import warmup, zerogpu
from .tmpdirs import sweep_outputs

log = logging.getLogger(__name__)
LANE = "gpu"  # the one concurrency id shared by every event that does real work
CONCURRENCY_ENV = "RESTORERS_CONCURRENCY"
Estimator = Callable[..., budget.Estimate]
# Handlers that opted in, by name: the tests check every public endpoint is one of them.
registered: dict[str, Callable] = {}


def concurrency() -> int:
    return max(1, limits.int_setting(CONCURRENCY_ENV, 1))


def _client_gone_probe() -> Callable[[], bool] | None:
    """A callable that says whether this request's client disconnected or cancelled it.

    Gradio marks the queue event ``alive = False`` when the browser's or gradio_client's stream closes, and
    drops it from the active jobs on /cancel; a thread running a sync handler is never interrupted, so the
    engine polls this between units of work. None outside a queued gradio event (tests, the CLI).
    """
    try:
        from gradio.context import LocalContext

        blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
        queue = getattr(blocks, "_queue", None)
        if queue is None or event_id is None:
            return None
        event = next((e for job in queue.active_jobs if job for e in job if e._id == event_id), None)
    except Exception:  # noqa: BLE001 - gradio internals moved: run without the probe rather than fail
        log.debug("no disconnect probe for this request", exc_info=True)
        return None
    if event is None:
        return None
    task = _event_task(event_id)

    def gone() -> bool:
        if not event.alive:  # the client's stream closed (browser tab, gradio_client process gone)
            return True
        # /cancel (gradio_client's job.cancel(), the page's Stop) cancels the asyncio task that awaits this
        # thread; the cancellation waits for the thread, so look at the request for it instead.
        return task is not None and (task.cancelling() > 0 or task.done())

    return gone


def _event_task(event_id: str):
    """The asyncio task gradio runs this event in (named '...<gradio-sep>{event_id}'), looked up on the event
    loop's thread; None when it cannot be found."""
    try:
        import asyncio

        import anyio.from_thread

        def find():
            return next((t for t in asyncio.all_tasks() if t.get_name().endswith(f"<gradio-sep>{event_id}")), None)

        return anyio.from_thread.run_sync(find)
    except Exception:  # noqa: BLE001 - not in a gradio worker thread, or gradio changed: no /cancel probe
        return None


# The most characters of one message shown to a user: enough for any sentence we write, and a cap on anything
# that quotes what a visitor sent (a 10 MB key name must not come back as a 10 MB error).
MAX_MESSAGE_CHARS = 2000


def _user_error(message: str, **kwargs: Any) -> gr.Error:
    """A gr.Error for a refusal or a user's mistake: server paths cut to file names, the length capped, and
    no traceback printed by gradio (the log gets one line, see _translate)."""
    from restorers.guards import shorten

    from .common import scrub_paths

    return gr.Error(shorten(scrub_paths(message), MAX_MESSAGE_CHARS), print_exception=False, **kwargs)


def _message(exc: BaseException) -> gr.Error:
    """The gr.Error a user sees for ``exc`` (no traceback, no paths, no object reprs)."""
    if isinstance(exc, budget.BudgetError):
        return _user_error(str(exc), title="Too much work for one request", duration=None)
    if isinstance(exc, cancel.Cancelled):
        return _user_error(str(exc), title="Stopped", duration=None)
    if isinstance(exc, (MemoryError,)) or type(exc).__name__ == "OutOfMemoryError":
        return _user_error("The server ran out of memory for this request: try a smaller image or fewer models.",
                           title="Out of memory", duration=None)
    if isinstance(exc, (restorers.ImageError, restorers.WeightsError, restorers.UnknownModelError, ValueError)):
        return _user_error(str(exc), duration=None)
    # A real bug: its traceback goes to the server log (once, here; gradio is told not to print it again).
    log.error("unexpected error in a request", exc_info=exc)
    return gr.Error(f"Something went wrong on the server ({type(exc).__name__}); the server log has the details.",
                    duration=None, print_exception=False)


_cleanup_lock = threading.Lock()
CLEANUP_DELAY_S = 0.5


def _release_memory_soon() -> None:
    """After a failed or refused request: collect what it left in reference cycles (a traceback's frames hold
    its decoded images and tensors) and hand the freed memory back to the OS, in a background thread so the
    error reaches the user at once. One clean-up at a time; a request failing meanwhile is covered by it."""
    def clean() -> None:
        try:
            import gc

            from restorers.models import release_freed_memory

            gc.collect()
            release_freed_memory()
        except Exception:  # noqa: BLE001 - a clean-up must never become an error of its own
            log.debug("memory clean-up failed", exc_info=True)
        finally:
            _cleanup_lock.release()

    if _cleanup_lock.acquire(blocking=False):
        # A moment later: the failed handler's frames are still alive while its error is being built here.
        timer = threading.Timer(CLEANUP_DELAY_S, clean)
        timer.daemon = True
        timer.start()


def _released(error: gr.Error) -> gr.Error:
    """``error`` cut loose from the failure behind it: a traceback or chained exception keeps every frame's
    locals (decoded images, tensors) alive for as long as gradio holds the error, so an idle server would
    keep the memory of a request that failed."""
    error.__traceback__ = None
    error.__context__ = error.__cause__ = None
    _release_memory_soon()
    return error


def _translate(exc: BaseException, label: str = "request") -> gr.Error:
    if isinstance(exc, gr.Error):
        if zerogpu.is_quota_error(exc):
            error = _user_error(f"{exc.message}\n\n{zerogpu.QUOTA_HELP}", title="Out of GPU time", duration=None)
        elif zerogpu.is_worker_error(exc):
            error = _user_error(f"{zerogpu.WORKER_HELP} ({exc.message})", title="GPU task stopped", duration=None)
        else:  # a handler's own sentence: the same treatment as ours, on the same error
            error = exc
            error.message = _user_error(str(exc.message)).message
            error.print_exception = False
    else:
        error = _message(exc)
    if not str(error.message).startswith("Something went wrong on the server"):
        # A user's mistake or a refusal: one line in the server log, never a traceback.
        log.warning("%s not done: %s: %s", label, type(exc).__name__, " ".join(str(error.message).split())[:300])
    return error


def job(estimate: Estimator | None = None, *, gpu: bool = True, what: str | None = None) -> Callable[[Callable], Callable]:
    """Decorate an event handler (plain or generator function) that does real work.

    estimate: gets the handler's arguments, returns a budget.Estimate on THIS device (None: no budget
    check, e.g. for a handler whose cost is bounded by its input limits alone). Refused past
    $RESTORERS_REQUEST_BUDGET_S; stopped past $RESTORERS_REQUEST_TIME_LIMIT_S or when the client goes.
    gpu: on ZeroGPU, run the handler inside @spaces.GPU with a duration from ``estimate``.
    """
    def decorate(fn: Callable) -> Callable:
        label = what or fn.__name__.removeprefix("run_").replace("_", " ")

        def cost(*args: Any, **kwargs: Any) -> budget.Estimate:
            return estimate(*args, **kwargs) if estimate is not None else budget.Estimate()

        def gpu_duration(*args: Any, **kwargs: Any) -> float:
            try:
                work = cost(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a bad input is reported by the run itself
                work = budget.Estimate()
            # The estimate is in this device's seconds (ZeroGPU: cuda, so already GPU-scaled).
            return budget.gpu_duration(work)

        target = zerogpu.wrap(fn, gpu_duration) if gpu else fn
        on_zero = getattr(target, "zero_gpu", False)

        def start(args: tuple, kwargs: dict) -> cancel.Deadline:
            sweep_outputs()  # old request folders and gradio's empty leftovers (at most once a minute)
            # A click during the start-up warm-up runs after it, not beside it on the same cores (and then
            # finds its models loaded); the wait is not counted in the request's time limit.
            warmup.wait()
            allowed, raise_with = limits.request_budget_s(), None
            gpu_max = limits.zerogpu_max_s() - limits.zerogpu_min_s()
            if on_zero and (not allowed or gpu_max < allowed):  # one ZeroGPU call holds the GPU for a bounded time
                allowed = gpu_max
                raise_with = (f"one ZeroGPU call may hold the GPU for {limits.zerogpu_max_s():g} s "
                              f"(${limits.ZEROGPU_MAX_ENV}; the platform caps it)")
            budget.check(cost(*args, **kwargs), budget_s=allowed, what=f"This {label}", raise_with=raise_with)
            return cancel.make(limits.request_time_limit_s(), _client_gone_probe())

        def call_kwargs(deadline: cancel.Deadline, kwargs: dict) -> dict:
            if on_zero:
                return {**kwargs, zerogpu.TIME_LEFT_KWARG: deadline.remaining()}
            return kwargs

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_handler(*args: Any, **kwargs: Any):
                try:
                    deadline = start(args, kwargs)
                    iterator = target(*args, **call_kwargs(deadline, kwargs))
                    while True:
                        with cancel.use(deadline):
                            deadline.check()
                            try:
                                item = next(iterator)
                            except StopIteration:
                                return
                        yield item
                except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                    error = _released(_translate(exc, label))
                # Raised outside the except block so that the original exception, and the frames it holds, go.
                raise error from None
            handler = gen_handler
        else:
            @functools.wraps(fn)
            def plain_handler(*args: Any, **kwargs: Any):
                if cancel.current() is not None:  # called from inside another job: its budget and deadline hold
                    return target(*args, **kwargs)
                began = time.monotonic()
                try:
                    deadline = start(args, kwargs)
                    with cancel.use(deadline):
                        return target(*args, **call_kwargs(deadline, kwargs))
                except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                    if isinstance(exc, cancel.Cancelled):
                        log.warning("%s stopped after %.1f s: %s", label, time.monotonic() - began, exc)
                    error = _released(_translate(exc, label))
                finally:
                    log.info("%s finished in %.1f s", label, time.monotonic() - began)
                raise error from None  # outside the except block: see gen_handler
            handler = plain_handler
        handler.is_job = True  # type: ignore[attr-defined]
        handler.estimate = cost  # type: ignore[attr-defined]
        registered[fn.__name__] = handler
        return handler
    return decorate


def quiet_user_errors() -> None:
    """gr.Error is a sentence for a user (a value not among a dropdown's choices, a file of the wrong type):
    by default gradio prints its full traceback to the server log every time. From now on such errors log
    one line; exceptions that are not gr.Error (real bugs) keep their traceback. Idempotent."""
    error_class = gr.Error
    if getattr(error_class.__init__, "quiet", False):
        return
    original = error_class.__init__

    def init(self, message: str = "Error raised.", duration: float | None = 10, visible: bool = True,
             title: str = "Error", print_exception: bool = False) -> None:
        original(self, message, duration, visible, title, print_exception)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("gradio"):  # gradio's own checks; ours are logged once by _translate
            log.warning("request refused by gradio: %s", " ".join(str(message).split())[:300])

    init.quiet = True  # type: ignore[attr-defined]
    error_class.__init__ = init  # type: ignore[method-assign]


def ui(fn: Callable) -> Callable:
    """Mark a cheap, UI-only handler (no decoding, no model): it keeps its own lane so it stays snappy."""
    fn.ui_only = True  # type: ignore[attr-defined]
    return fn


def share_lane(demo: gr.Blocks, limit: int | None = None) -> int:
    """Put every queued event of ``demo`` that is not ``@ui`` into ONE concurrency lane of ``limit`` jobs
    (default $RESTORERS_CONCURRENCY, 1). Gradio limits concurrency per event by default, so without this a
    restore, an evaluation and an Examples click would run side by side. Returns how many events joined."""
    limit = limit or concurrency()
    joined = 0
    for block_fn in demo.fns.values():
        if block_fn.fn is None or getattr(block_fn.fn, "ui_only", False):
            continue
        block_fn.concurrency_id = LANE
        block_fn.concurrency_limit = limit
        joined += 1
    return joined
