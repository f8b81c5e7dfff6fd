"""webui/jobs.py (the @job wrapper every action goes through) and webui/zerogpu.py, without a server:
budget refusals, time limits, error messages, the shared concurrency lane, and the ZeroGPU path run on the
CPU with a fake `spaces` module."""
from __future__ import annotations

import os
import sys
import time
import types

import gradio as gr
import pytest

from restorers.analysis import budget
from restorers.guards import cancel, limits
from webui import jobs, zerogpu
from webui.common import example


@pytest.fixture()
def fake_spaces(monkeypatch):
    """A stand-in for the `spaces` package: GPU(duration=fn) records each asked duration and calls through."""
    module = types.ModuleType("spaces")
    module.durations = []
    module.raise_quota = False

    def GPU(task=None, *, duration=None, size=None):  # noqa: N802 - the real name
        def decorate(fn):
            def call(*args, **kwargs):
                module.durations.append(duration(*args, **kwargs) if callable(duration) else duration)
                if module.raise_quota:  # what spaces raises when the visitor's GPU time is used up
                    raise gr.Error("You have exceeded your free ZeroGPU quota (60s requested vs. 12s left). "
                                   "Try again in 0:09:00.", title="ZeroGPU quota exceeded")
                return fn(*args, **kwargs)
            return call
        return decorate(task) if task is not None else decorate

    module.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    monkeypatch.setenv(zerogpu.ZERO_GPU_ENV, "true")
    return module


def _seconds(n: float) -> budget.Estimate:
    return budget.part("work", n)


def test_over_budget_is_refused_before_running(monkeypatch):
    ran = []

    @jobs.job(lambda n: _seconds(n))
    def work(n):
        ran.append(n)
        return n

    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "60")
    assert work(50) == 50
    with pytest.raises(gr.Error, match="would take about 80 s of work here, more than this server's budget of 60 s"):
        work(80)
    assert ran == [50]


def test_time_limit_stops_the_engine_with_a_message(monkeypatch):
    monkeypatch.setenv(limits.REQUEST_TIME_LIMIT_ENV, "0.05")

    @jobs.job()
    def slow():
        for _ in range(100):
            time.sleep(0.01)
            cancel.check()
        return "finished"

    with pytest.raises(gr.Error, match="passed its time limit of 0.05 s") as info:
        slow()
    assert info.value.title == "Stopped"


def test_errors_become_messages_without_internals():
    @jobs.job()
    def broken(kind):
        if kind == "value":
            raise ValueError("scale must be positive")
        if kind == "memory":
            raise MemoryError()
        raise KeyError("/tmp/secret/path")

    with pytest.raises(gr.Error, match="scale must be positive"):
        broken("value")
    with pytest.raises(gr.Error, match="ran out of memory"):
        broken("memory")
    with pytest.raises(gr.Error) as info:
        broken("other")
    assert "/tmp" not in info.value.message and "KeyError" in info.value.message


def test_generator_handlers_keep_the_deadline_between_steps(monkeypatch):
    monkeypatch.setenv(limits.REQUEST_TIME_LIMIT_ENV, "30")

    @jobs.job()
    def steps():
        for i in range(3):
            assert cancel.current() is not None and cancel.current().limit_s == 30
            yield i

    assert list(steps()) == [0, 1, 2]
    assert cancel.current() is None


def test_the_app_handlers_refuse_an_over_budget_restore(monkeypatch):
    from webui.restore_tab import run_restore

    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "5")
    with pytest.raises(gr.Error, match="realesrgan-x4plus about"):
        run_restore(example("two_portraits.jpg"), ["lanczos", "realesrgan-x4plus"], 4.0, "whole", "lanczos")


def test_every_event_shares_one_lane_and_every_api_endpoint_is_a_job():
    import app

    demo = app.create_demo()
    lanes = {fn.name: fn.concurrency_id for fn in demo.fns.values() if fn.fn is not None}
    assert lanes["run_restore"] == lanes["run_evaluation"] == lanes["run_repeated"] == jobs.LANE
    assert lanes["run_interpolation"] == lanes["check_upload"] == lanes["<lambda>"] == jobs.LANE  # Examples too
    assert lanes["kind_changed"] != jobs.LANE  # @ui: cheap, stays snappy
    public = [fn for fn in demo.fns.values() if fn.api_visibility == "public" and fn.fn is not None]
    assert {fn.api_name for fn in public} >= {"restore", "evaluate", "loop", "interpolate", "degrade"}
    assert all(getattr(fn.fn, "is_job", False) for fn in public), [fn.api_name for fn in public]
    assert {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == jobs.LANE} == {1}
    # gradio 6.31 does not stop a raw client from calling a private event (/gradio_api/call/<name> and
    # /queue/join both run it), so every event must be harmless: trivial (@ui) or in the one bounded lane.
    for fn in demo.fns.values():
        if fn.fn is not None:
            assert getattr(fn.fn, "ui_only", False) or fn.concurrency_id == jobs.LANE, fn.name


# --- ZeroGPU ------------------------------------------------------------------------------------------------

def test_without_zerogpu_nothing_is_wrapped(monkeypatch):
    monkeypatch.delenv(zerogpu.ZERO_GPU_ENV, raising=False)

    def fn():
        return 1

    assert zerogpu.wrap(fn, lambda: 10) is fn


def test_zerogpu_path_runs_on_cpu_with_a_duration_from_the_estimate(fake_spaces, monkeypatch):
    monkeypatch.setenv(limits.ZEROGPU_MAX_ENV, "120")
    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "0")
    seen = []

    @jobs.job(lambda n: _seconds(n))
    def work(n):
        seen.append(cancel.current().remaining())  # the time limit reached the "GPU worker"
        return n * 2

    assert work(5) == 10 and work(50) == 100 and work(105) == 210
    small, medium, most = fake_spaces.durations
    assert limits.DEFAULT_ZEROGPU_MIN_S <= small < medium < most == 120
    assert all(left is not None and left > 0 for left in seen)
    # More GPU time than one ZeroGPU call may hold is refused up front, not killed half-way.
    with pytest.raises(gr.Error, match="budget of 105 s .* one ZeroGPU call may hold the GPU for 120 s"):
        work(5000)


def test_zerogpu_generator_handlers(fake_spaces):
    @jobs.job(lambda: _seconds(1))
    def frames():
        yield 1
        yield 2

    assert list(frames()) == [1, 2]
    assert len(fake_spaces.durations) == 1


def test_zerogpu_quota_error_gets_a_clear_message(fake_spaces):
    fake_spaces.raise_quota = True

    @jobs.job(lambda: _seconds(1))
    def work():
        return 1

    with pytest.raises(gr.Error) as info:
        work()
    assert info.value.title == "Out of GPU time"
    assert "exceeded your free ZeroGPU quota" in info.value.message and "run the app yourself" in info.value.message


def test_zerogpu_worker_error_gets_a_clear_message():
    error = gr.Error("GPU task aborted", title="ZeroGPU worker error")
    assert not zerogpu.is_quota_error(error)
    translated = jobs._translate(error)
    assert translated.title == "GPU task stopped" and "ran past the GPU time" in translated.message
    other = gr.Error("Please upload an image first.")
    assert jobs._translate(other) is other


def test_zerogpu_app_restore_runs_through_the_decorator(fake_spaces, monkeypatch):
    """The real Restore handler, decorated at import with ZeroGPU on: the work runs inside the GPU function."""
    import importlib

    import webui.restore_tab as restore_tab

    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "0")
    reloaded = importlib.reload(restore_tab)
    try:
        gallery, *_ = reloaded.run_restore(example("astronaut_face_low.png"), ["lanczos"], 2.0, "aligned", "lanczos")
        assert len(gallery) == 1 and len(fake_spaces.durations) == 1
        assert limits.DEFAULT_ZEROGPU_MIN_S <= fake_spaces.durations[0] <= limits.DEFAULT_ZEROGPU_MAX_S
    finally:
        monkeypatch.delenv(zerogpu.ZERO_GPU_ENV)
        importlib.reload(restore_tab)


# --- temporary files ----------------------------------------------------------------------------------------

def test_sweep_deletes_old_requests_and_dead_processes_folders(tmp_path, monkeypatch):
    import os

    from webui import tmpdirs

    run_dir = tmp_path / f"run-{os.getpid()}"
    monkeypatch.setattr(tmpdirs, "OUTPUT_ROOT", tmp_path)
    monkeypatch.setattr(tmpdirs, "RUN_DIR", run_dir)
    old, fresh, gradio_cache = run_dir / "restore-old", run_dir / "restore-new", run_dir / "gradio"
    dead = tmp_path / "run-999999999"  # no such process
    for folder in (old, fresh, gradio_cache, dead / "loop-x"):
        folder.mkdir(parents=True)
        (folder / "out.png").write_bytes(b"x")
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(gradio_cache, (an_hour_ago, an_hour_ago))
    assert tmpdirs.sweep_outputs(force=True) == 2
    assert not old.exists() and not dead.exists()
    assert fresh.exists() and gradio_cache.exists()  # gradio sweeps its own cache (delete_cache)
    assert tmpdirs.sweep_outputs() == 0  # at most once a minute unless forced


def test_the_app_keeps_gradios_cache_in_its_own_folder(monkeypatch):
    from webui import tmpdirs

    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    tmpdirs.use_for_gradio()
    assert os.environ["GRADIO_TEMP_DIR"] == str(tmpdirs.GRADIO_DIR)
    assert tmpdirs.GRADIO_DIR.parent == tmpdirs.RUN_DIR


def test_app_estimators_read_the_handlers_arguments():
    from webui import costs

    face = example("astronaut_face_low.png")
    single = costs.restore(face, ["codeformer"], 2.0, "whole", "lanczos", False, 0, 0.9, 1.0, "0.5")
    sweep = costs.restore(face, ["codeformer"], 2.0, "whole", "lanczos", False, 0, 0.9, 1.0, "0, 0.5, 1")
    centre = costs.restore(face, ["codeformer"], 2.0, "whole", "lanczos", True, 0, 0.9, 1.0, "0.5")
    assert centre.seconds < single.seconds < sweep.seconds
    assert costs.restore(None, ["lanczos"]).seconds == 0  # nothing to read: the handler says so
    assert costs.count_seeds("1-100000000") is None and costs.count_seeds("1,2,10-14") == 7  # never expanded


def test_a_job_called_inside_another_keeps_the_outer_deadline(monkeypatch, fake_spaces):
    monkeypatch.setenv(limits.REQUEST_TIME_LIMIT_ENV, "30")
    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "100")

    @jobs.job(lambda: _seconds(500))  # over budget on its own, but it runs as part of the outer request
    def inner():
        return cancel.current().limit_s

    @jobs.job(lambda: _seconds(1))
    def outer():
        return inner()

    assert outer() == pytest.approx(30, abs=1)  # the outer time limit, carried into the "GPU worker"


@pytest.mark.parametrize("generator", [False, True])
def test_a_failed_job_keeps_none_of_its_memory(generator):
    """The error a user gets must not keep the failed request's frames (and their arrays) alive."""
    import gc
    import weakref

    class Payload:  # stands in for a decoded image or a tensor
        pass

    refs = []

    def work():
        payload = Payload()
        refs.append(weakref.ref(payload))
        raise ValueError("no face found")

    if generator:
        @jobs.job()
        def handler():
            yield work()
        call = lambda: list(handler())  # noqa: E731
    else:
        handler = jobs.job()(work)
        call = handler

    with pytest.raises(gr.Error, match="no face found") as caught:
        call()
    error = caught.value
    assert error.__context__ is None and error.__cause__ is None
    gc.collect()
    assert refs[0]() is None, "the error still holds the failed request's data"
