"""The cost estimator (restorers/budget.py), cooperative cancellation (restorers/cancel.py) and the caps on
faces per photo and steps per degradation chain."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from restorers.analysis import budget
from restorers.guards import cancel, limits
from restorers.analysis.degrade import parse_degradation
from restorers.analysis.evaluate import evaluate
from restorers.analysis.loop import run_loop
from restorers.pipelines.tiling import tiled_apply

SMALL, BIG = (256, 256), (4096, 4096)


def test_restore_estimate_grows_with_pixels_and_models():
    one = budget.restore_cost(SMALL, ["realesrgan-x4plus"], 2.0)
    bigger = budget.restore_cost((1024, 1024), ["realesrgan-x4plus"], 2.0)
    more = budget.restore_cost((1024, 1024), ["realesrgan-x4plus", "realesrgan-x2plus"], 2.0)
    assert 0 < one.seconds < bigger.seconds < more.seconds
    # Per-megapixel constants: 16x the pixels costs about 16x the network time (plus fixed load time).
    assert bigger.seconds - budget.MODEL_LOAD_S == pytest.approx(16 * (one.seconds - budget.MODEL_LOAD_S), rel=0.05)


def test_the_issue_requests_are_refused_and_ordinary_ones_fit():
    every_model = ["bicubic", "lanczos", "realesrgan-x4plus", "realesrgan-x2plus", "realesr-general-x4v3",
                   "gpen-bfr-512", "gpen-bfr-256", "gfpgan-v1.4", "gfpgan-v1.3"]
    huge = budget.restore_cost(BIG, every_model, 4.0)
    assert huge.seconds > 3600  # hours, as measured in the issue
    with pytest.raises(budget.BudgetError, match="realesrgan-x4plus") as info:
        budget.check(huge, budget_s=600)
    assert "RESTORERS_REQUEST_BUDGET_S" in str(info.value) and "h of work" in str(info.value)
    day = budget.evaluate_cost([BIG] * 24, "stackblur:8", every_model, list(budget.METRIC_S_PER_MP))
    assert day.seconds > 6 * 3600
    ordinary = budget.restore_cost((512, 512), ["lanczos", "realesr-general-x4v3", "gfpgan-v1.4"], 2.0, mode="whole")
    assert budget.check(ordinary, budget_s=600) is ordinary
    assert budget.check(huge, budget_s=0) is huge  # 0: no budget (a dedicated machine)


def test_budget_comes_from_the_environment(monkeypatch):
    estimate = budget.part("x", 100.0)
    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "50")
    with pytest.raises(budget.BudgetError):
        budget.check(estimate)
    monkeypatch.setenv(limits.REQUEST_BUDGET_ENV, "150")
    budget.check(estimate)


def test_whole_photo_faces_are_budgeted_up_to_the_cap(monkeypatch):
    monkeypatch.setenv(limits.MAX_FACES_ENV, "8")
    few = budget.model_cost("gpen-bfr-512", 1024, 1024, 2.0, mode="whole", faces=2)
    unknown = budget.model_cost("gpen-bfr-512", 1024, 1024, 2.0, mode="whole")
    crowd = budget.model_cost("gpen-bfr-512", 1024, 1024, 2.0, mode="whole", faces=176)
    assert few.seconds < unknown.seconds == crowd.seconds  # unknown = the cap, pessimistic


def test_evaluate_loop_and_walk_estimates_grow_with_the_work():
    base = budget.evaluate_cost([SMALL], "stackblur:8", ["bicubic"], ["ssim"])
    assert budget.evaluate_cost([SMALL] * 4, "stackblur:8", ["bicubic"], ["ssim"]).seconds > 3.9 * base.seconds
    assert budget.evaluate_cost([SMALL], "stackblur:8", ["bicubic"], ["ssim", "vifp"]).seconds > base.seconds
    # A downscale degradation makes the SR model's input 16x smaller.
    sr_full = budget.evaluate_cost([(1024, 1024)], "stackblur:8", ["realesrgan-x4plus"], ["psnr"])
    sr_small = budget.evaluate_cost([(1024, 1024)], "downscale:4", ["realesrgan-x4plus"], ["psnr"])
    assert sr_small.seconds < sr_full.seconds / 8
    assert budget.loop_cost(SMALL, "realesrgan-x4plus", 10, 1.1).seconds > 5 * budget.loop_cost(SMALL, "realesrgan-x4plus", 2, 1.1).seconds
    # Growth is capped at max_side, so 30 runs at x4 do not explode.
    capped = budget.loop_cost(SMALL, "lanczos", 30, 4.0, max_side=2048)
    assert capped.seconds < 30 * budget.model_cost("lanczos", 2048, 2048, 4.0).seconds + 30
    assert budget.walk_cost(144).seconds > 1.9 * budget.walk_cost(72).seconds
    assert budget.walk_cost(72, resolution=256).seconds < budget.walk_cost(72, resolution=1024).seconds / 10


def test_degraded_size_follows_the_spec():
    assert budget.degraded_size("downscale:4", 1024, 512) == (256, 128)
    assert budget.degraded_size("downscale:4:restore+jpeg:30", 1024, 512) == (1024, 512)
    assert budget.degraded_size("realesrgan:2", 1000, 1000) == (500, 500)


def test_device_factor_scales_the_estimate(monkeypatch):
    estimate = budget.restore_cost(SMALL, ["realesrgan-x4plus"], 2.0)
    monkeypatch.setenv(limits.GPU_FACTOR_ENV, "0.1")
    gpu = budget.device_factor("cuda")
    assert gpu == 0.1 and budget.device_factor("cpu", bf16=False) == budget.CPU_FP32_FACTOR
    assert estimate.scaled(gpu).seconds == pytest.approx(estimate.seconds * 0.1)


def test_gpu_duration_grows_and_is_clamped(monkeypatch):
    monkeypatch.setenv(limits.ZEROGPU_MAX_ENV, "120")
    durations = [budget.gpu_duration(budget.part("x", s)) for s in (0, 10, 60, 500, 10_000)]
    assert durations == sorted(durations)
    assert durations[0] == limits.DEFAULT_ZEROGPU_MIN_S and durations[-1] == 120
    assert durations[1] < durations[2] < durations[3]


def test_unknown_models_cost_nothing_so_the_run_reports_them():
    assert budget.restore_cost(SMALL, ["no-such-model"], 2.0).seconds == 0


# --- cancellation -------------------------------------------------------------------------------------------

def test_check_is_free_outside_a_request_and_stops_past_the_deadline():
    cancel.check()  # no deadline: nothing happens
    before = cancel.stopped["time_limit"]
    with cancel.deadline(0.01):
        time.sleep(0.02)
        with pytest.raises(cancel.Cancelled, match="time limit of 0.01 s"):
            cancel.check()
    assert cancel.stopped["time_limit"] == before + 1
    cancel.check()  # the deadline ended with its block


def test_a_gone_client_stops_tiling_between_tiles():
    calls = []
    gone = {"now": False}

    def fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 3:
            gone["now"] = True  # the client disconnects while the third tile runs
        return x

    with cancel.deadline(None, is_cancelled=lambda: gone["now"]):
        with pytest.raises(cancel.Cancelled, match="disconnected"):
            tiled_apply(fn, torch.zeros(1, 3, 64, 64), 1, tile=16, overlap=0)
    assert len(calls) == 3  # 16 tiles asked, stopped after the third


def test_cancelled_passes_through_the_engines_per_model_error_handling():
    gt = np.full((32, 32, 3), 128, np.uint8)
    with cancel.deadline(None, is_cancelled=lambda: True):
        with pytest.raises(cancel.Cancelled):
            evaluate([("a", gt)], "stackblur:2", ["bicubic", "lanczos"])
        with pytest.raises(cancel.Cancelled):
            run_loop("lanczos", gt, runs=5, scale=1.0)
    assert not issubclass(cancel.Cancelled, (RuntimeError, ValueError))


# --- caps ---------------------------------------------------------------------------------------------------

def test_degradation_chains_are_capped(monkeypatch):
    assert len(parse_degradation("+".join(["jpeg:90"] * 8)).steps) == 8
    with pytest.raises(ValueError, match="9 steps in degradation spec; at most 8"):
        parse_degradation("+".join(["jpeg:90"] * 9))
    monkeypatch.setenv(limits.MAX_DEGRADE_STEPS_ENV, "12")
    assert len(parse_degradation("+".join(["jpeg:90"] * 12)).steps) == 12


def test_faces_per_photo_are_capped_to_the_largest(monkeypatch):
    from restorers.pipelines import face

    class Detector:
        def detect(self, image, threshold=0.9, min_size=0):
            boxes = [(10, 10, 10 + s, 10 + s) for s in (20, 60, 40, 80)]
            marks = np.array([[15, 15], [25, 15], [20, 20], [16, 25], [24, 25]], np.float32)
            return [face.Face(box, marks + box[0], 0.99) for box in boxes]

    image = np.full((128, 128, 3), 100, np.uint8)
    monkeypatch.setenv(limits.MAX_FACES_ENV, "2")
    result = face.restore_faces(image, lambda crops: crops, 64, detector=Detector())
    assert result.skipped == 2
    assert sorted(round(f.width) for f in result.faces) == [60, 80]  # the two largest, not the first two
    monkeypatch.setenv(limits.MAX_FACES_ENV, "0")  # 0: no cap
    assert len(face.restore_faces(image, lambda crops: crops, 64, detector=Detector()).faces) == 4


def test_a_fidelity_sweep_costs_one_pass_per_weight():
    one = budget.restore_cost((512, 512), ["codeformer"], 2.0, mode="whole")
    three = budget.restore_cost((512, 512), ["codeformer"], 2.0, mode="whole", passes={"codeformer": 3})
    face_part = one.seconds - budget.MODEL_LOAD_S - budget.DETECT_S - budget.model_cost("lanczos", 512, 512, 2.0).seconds
    assert three.seconds == pytest.approx(one.seconds + 2 * face_part)
    columns = budget.evaluate_cost([SMALL], "stackblur:8", ["codeformer"], ["ssim"], passes={"codeformer": 3})
    assert columns.seconds > 2.5 * budget.evaluate_cost([SMALL], "stackblur:8", ["codeformer"], ["ssim"]).seconds - 10


def test_the_parse_mask_is_budgeted_per_face(monkeypatch):
    from restorers.pipelines import face_mask

    square = budget.model_cost("gfpgan-v1.4", 1024, 1024, 2.0, mode="whole", faces=3, mask="square")
    parse = budget.model_cost("gfpgan-v1.4", 1024, 1024, 2.0, mode="whole", faces=3, mask="parse")
    assert parse.seconds == pytest.approx(square.seconds + 3 * budget.PARSE_S)
    assert dict(parse.parts)["face parsing (parse mask)"] == pytest.approx(3 * budget.PARSE_S)
    # The default follows the parser's weights; aligned crops are never pasted, so never parsed.
    monkeypatch.setattr(face_mask, "parser_ready", lambda: True)
    assert budget.model_cost("gfpgan-v1.4", 1024, 1024, 2.0, mode="whole", faces=3).seconds == parse.seconds
    monkeypatch.setattr(face_mask, "parser_ready", lambda: False)
    assert budget.model_cost("gfpgan-v1.4", 1024, 1024, 2.0, mode="whole", faces=3).seconds == square.seconds
    aligned = budget.model_cost("gfpgan-v1.4", 512, 512, 1.0, mode="aligned", mask="parse")
    assert "face parsing (parse mask)" not in dict(aligned.parts)
    both = budget.restore_cost((512, 512), ["gfpgan-v1.4"], 2.0, mode="whole", faces=2, mask="parse")
    assert dict(both.parts)["face parsing (parse mask)"] == pytest.approx(2 * budget.PARSE_S)


def test_face_models_of_one_run_count_one_sr_background():
    one = budget.restore_cost((1024, 679), ["gpen-bfr-512"], 2.0, mode="whole", background="realesrgan-x2plus")
    two = budget.restore_cost((1024, 679), ["gpen-bfr-512", "gfpgan-v1.4"], 2.0, mode="whole",
                              background="realesrgan-x2plus")
    alone = budget.restore_cost((1024, 679), ["gfpgan-v1.4"], 2.0, mode="whole", background="none")
    background = budget.model_cost("realesrgan-x2plus", 1024, 679, 2.0)
    assert two.seconds == pytest.approx(one.seconds + alone.seconds)  # the background once, not twice
    assert background.seconds > 0 and one.seconds > background.seconds


def test_an_uploaded_generator_is_priced_by_its_file_size_never_above_ffhq_1024():
    full = budget.walk_cost(50, 1024, 256)
    small = budget.walk_cost(50, 1024, 256, pickle_bytes=2_200_000)  # the golden test network
    huge = budget.walk_cost(50, 1024, 256, pickle_bytes=10**10)
    assert small.seconds < full.seconds / 20 and huge.seconds == full.seconds
