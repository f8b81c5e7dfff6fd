"""Where a user's wait goes: the engine's stage functions wrapped to record seconds and FLOPs per stage.

While StageClock.installed() is active, each call of a wrapped function (decode, detect, align, face
network, SR network, resize, paste-back, PNG encode) adds its wall time to its stage, and, while
``counting`` is on, its FLOPs (torch.utils.flop_counter) with the number format it ran in. A stage called
inside another (the Lanczos resize inside an SR upscale) counts as part of the outer one, except "load" (getting a network, CARVED). Calls from any
thread are recorded (the app runs requests in worker threads); FLOPs are counted only in the thread that
turned counting on, since flop counting modes are per thread.
"""
from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import defaultdict
from typing import Any, Callable, Iterator

STAGES = ("load", "decode", "detect", "align", "face net", "parse", "SR net", "resize", "paste", "PNG encode")
# Timed even inside another stage, and taken out of that stage's time: getting a network (read, verify and
# build it on first use; a cache look-up afterwards) happens inside the call that runs it.
CARVED = ("load",)
NETWORK_STAGES = ("detect", "face net", "parse", "SR net")


def _precision_of(obj: Any) -> str:
    """The number format a restorer or detector runs in: 'bf16', 'fp16' or 'fp32'."""
    import torch

    dtype = getattr(obj, "dtype", None)
    if dtype is not None:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    return getattr(obj, "precision", "fp32")


class StageClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._counting_thread: int | None = None
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.flops: dict[str, float] = defaultdict(float)
        self.formats: dict[str, str] = {}

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.calls.clear()
            self.flops.clear()
            self.formats.clear()

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Count FLOPs of the stages run by this thread inside the block."""
        self._counting_thread = threading.get_ident()
        try:
            yield
        finally:
            self._counting_thread = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"seconds": dict(self.seconds), "calls": dict(self.calls), "flops": dict(self.flops),
                    "formats": dict(self.formats)}

    def _timed(self, stage: str, fn: Callable, precision: Callable[..., str] | None) -> Callable:
        clock = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if stage in CARVED:
                return clock._carve(stage, fn, args, kwargs)
            if getattr(clock._local, "depth", 0):
                return fn(*args, **kwargs)  # inside another stage: part of that one
            clock._local.depth = 1
            clock._local.carved = 0.0
            count = clock._counting_thread == threading.get_ident()
            counter = None
            try:
                if count:
                    from torch.utils.flop_counter import FlopCounterMode

                    counter = FlopCounterMode(display=False)
                    counter.__enter__()
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    elapsed = time.perf_counter() - start - clock._local.carved
                    flops = 0
                    if counter is not None:
                        counter.__exit__(None, None, None)
                        flops = counter.get_total_flops()
                    with clock._lock:
                        clock.seconds[stage] += elapsed
                        clock.calls[stage] += 1
                        if flops:
                            clock.flops[stage] += flops
                            clock.formats[stage] = precision(args[0]) if precision else "fp32"
            finally:
                clock._local.depth = 0

        return wrapper

    def _carve(self, stage: str, fn: Callable, args: tuple, kwargs: dict) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            self._local.carved = getattr(self._local, "carved", 0.0) + elapsed
            with self._lock:
                self.seconds[stage] += elapsed
                self.calls[stage] += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator["StageClock"]:
        """Wrap the stage functions for the duration of the block (restored afterwards)."""
        from restorers.media import images
        from restorers.models import networks
        from restorers.pipelines import face, face_mask, restorer

        targets = [
            (restorer, "get_network", "load", None),
            (networks, "get_network", "load", None),  # the face parser's
            (face, "default_detector", "load", None),
            (images, "load_image", "decode", None),
            (images, "save_png", "PNG encode", None),
            (images, "resize", "resize", None),
            (face.FaceDetector, "detect", "detect", _precision_of),
            (face, "align_face", "align", None),
            (face, "paste_faces", "paste", None),
            (restorer.FaceRestorer, "restore_crops_sweep", "face net", _precision_of),
            (face_mask.FaceParser, "weights", "parse", None),  # the 'parse' paste-back mask: fp32 by design
            (restorer.SRRestorer, "upscale", "SR net", _precision_of),
        ]
        saved = [(owner, name, owner.__dict__[name]) for owner, name, _, _ in targets]
        try:
            for owner, name, stage, precision in targets:
                setattr(owner, name, self._timed(stage, getattr(owner, name), precision))
            yield self
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)
