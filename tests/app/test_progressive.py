"""The Restore tab's speed features, on the handlers: warm-up at start-up (in the background, never blocking),
the estimate under the button, and results as they come (the page) while /restore returns the final outputs."""
from __future__ import annotations

import threading
import time

import pytest

import restorers
from conftest import require_shared
from hubcache import add_file
from restorers.models import networks, registry
from restorers.models.registry import GPEN_BFR_512, ModelSpec
from test_restore_faces import tiny_spec
from test_restore_sr import FIXTURE, _build_srvgg
from webui import restore_estimate, restore_tab, warmup


@pytest.fixture()
def fixture_models(hub_cache, monkeypatch) -> tuple[str, str]:
    """A trained SRVGG (the animevideov3 fixture) and a tiny GPEN, registered and cached like product models."""
    weights = add_file(hub_cache, "fixtures/animevideov3", "realesr-animevideov3.pth",
                       require_shared(*FIXTURE).read_bytes())
    sr = ModelSpec(name="fixture-srvgg", title="Fixture SRVGG", family="sr", build=_build_srvgg,
                   config=dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
                   weights=weights, scale=4)
    face = tiny_spec(hub_cache, "gpen/case_gpen_128.pt", GPEN_BFR_512, 128, wrap=None)
    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS, sr, face))
    networks.clear_cache()
    yield sr.name, face.name
    networks.clear_cache()


@pytest.fixture()
def fresh_warmup(monkeypatch):
    monkeypatch.setattr(warmup, "state", warmup.WarmupState())
    warmup.state.done.set()
    yield warmup.state
    warmup.wait(60)


def cached() -> set[str]:
    return {name for name, _ in networks.cached_networks()}


def test_warmup_loads_ready_models_in_the_background_and_jobs_wait_for_it(fixture_models, fresh_warmup, monkeypatch):
    sr, face = fixture_models
    names = warmup.warmup_names(["lanczos", sr, "realesrgan-x4plus", face])
    # Baselines have no network, missing weights are never downloaded, the detector comes last.
    assert names == [sr, face, warmup.DETECTOR]

    release = threading.Event()
    real_warm = warmup.warm

    def held_warm(name):  # the first model's warm-up waits for the test, so "not blocking" is observable
        release.wait(30)
        real_warm(name)

    monkeypatch.setattr(warmup, "warm", held_warm)
    began = time.monotonic()
    thread = warmup.start(["lanczos", sr, face])
    assert thread is not None and time.monotonic() - began < 1.0  # start() returned at once
    assert not warmup.state.done.is_set() and sr not in cached()

    finished = []
    waiting = threading.Thread(target=lambda: finished.append(restore_tab.check_upload(None)))
    waiting.start()
    time.sleep(0.5)
    assert not finished  # a job that comes during the warm-up waits for it (the one lane)
    release.set()
    assert warmup.wait(120) and not warmup.state.failed
    waiting.join(30)
    assert finished == [{}]
    assert warmup.state.warmed == [sr, face, warmup.DETECTOR]
    assert {sr, face} <= cached()  # the network cache holds them: the first click loads nothing


def test_warmup_can_be_turned_off(fixture_models, fresh_warmup, monkeypatch):
    monkeypatch.setenv(warmup.WARMUP_ENV, "0")
    assert warmup.start([fixture_models[0]]) is None and warmup.state.names == []
    assert warmup.wait(0)  # nothing to wait for


def test_the_estimate_names_this_photo_and_flags_over_a_minute(hub_cache):
    photo = str(require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg"))  # 700x464
    line = restore_estimate.estimate_html(photo, ["lanczos"], 2.0, "whole", "auto")
    assert "Estimated under 1 s for this photo here" in line and "Lanczos (baseline) under 1 s" in line
    assert "studio-info" in line

    slow = restore_estimate.estimate_html(photo, ["lanczos", "realesrgan-x4plus"], 4.0, "whole", "auto")
    assert "Over a minute: Real-ESRGAN x4plus would take" in slow and "studio-warn" in slow
    smaller = restore_estimate.estimate_html(photo, ["realesrgan-x4plus"], 1.0, "whole", "auto")
    assert smaller != slow  # it follows the selection

    # A whole photo's face model: with the faces counted, the estimate is for them, not for the cap.
    counted = restore_estimate.estimate_html(photo, ["gpen-bfr-512"], 2.0, "whole", "lanczos", False, None, None,
                                             {"image": photo, "faces": 1})
    uncounted = restore_estimate.estimate_html(photo, ["gpen-bfr-512"], 2.0, "whole", "lanczos")
    assert "(1 face found)" in counted and "GPEN-BFR-512 about" in counted and "Over a minute" not in counted
    assert "up to 32 are assumed" in uncounted and counted != uncounted
    assert restore_estimate.estimate_html(None, ["lanczos"]).count("add a photo") == 1


def test_faces_are_counted_on_upload_with_the_detector_here(hub_cache):
    photo = str(require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg"))
    assert restore_tab.check_upload(photo) == {"image": photo, "faces": 2}  # the detector finds two in this photo
    assert restore_tab.check_upload(None) == {}


def test_the_page_shows_each_column_when_its_model_finishes(hub_cache):
    photo = str(require_shared("faces", "gfpgan-cropped", "Adele_crop.png"))
    steps = list(restore_tab.run_restore_in_page(photo, ["bicubic", "lanczos"], 1.5, *FACE_DEFAULTS))
    assert [len(step[0]) for step in steps] == [1, 2]
    assert "1 of 2 models done" in steps[0][5] and "All 2 models ran" in steps[1][5]
    api = restore_tab.run_restore(photo, ["bicubic", "lanczos"], 1.5, *FACE_DEFAULTS)
    assert len(api) == len(steps[-1]) == 8
    assert [caption.split(" · ")[:2] for _, caption in api[0]] == [c.split(" · ")[:2] for _, c in steps[-1][0]]
    assert [row[:2] for row in api[3]] == [row[:2] for row in steps[-1][3]]


def test_whole_photo_faces_first_then_the_learned_background(fixture_models):
    sr, face = fixture_models
    photo = str(require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg"))
    steps = list(restore_tab.run_restore_in_page(photo, [face], 2.0, "whole", sr, False, 0, 0.97, 1.0))
    assert len(steps) == 2
    early, final = steps[0][0], steps[1][0]
    assert len(early) == 1 and restore_tab.PROVISIONAL_NOTE in early[0][1]
    assert len(final) == 1 and restore_tab.PROVISIONAL_NOTE not in final[0][1] and "1400x928" in final[0][1]
    assert steps[0][3] == []  # no timings row until the model is done
    # The API gives the final result only, from one pass without the early paste.
    api = restore_tab.run_restore(photo, [face], 2.0, "whole", sr, False, 0, 0.97, 1.0)
    assert [c.split(" · ")[:2] for _, c in api[0]] == [c.split(" · ")[:2] for _, c in final]


FACE_DEFAULTS = ["whole", "lanczos", False, 0, 0.97, 1.0]


def test_old_clients_get_the_final_outputs_only(client):
    """A gradio_client call as clients made it before the page streamed: the arguments up to the face options,
    one answer (no partial ones), the same outputs as before."""
    from gradio_client import handle_file

    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    job = client.submit(handle_file(str(photo)), ["bicubic", "lanczos"], 1.5, *FACE_DEFAULTS, api_name="/restore")
    gallery, slider, compare, timings, faces, status, files = job.result(timeout=600)
    assert len(job.outputs()) == 1
    assert [item["caption"].split(" · ")[:2] for item in gallery] == [["Bicubic (baseline)", "768x768"],
                                                                      ["Lanczos (baseline)", "768x768"]]
    assert [row[0] for row in timings["data"]] == ["Bicubic (baseline)", "Lanczos (baseline)"]
    assert len(slider) == 2 and len(files) == 2 and "All 2 models ran" in status
