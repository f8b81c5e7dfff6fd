"""The page's own behaviour, tested on the handlers directly: picker labels, examples, stale outputs."""
from __future__ import annotations

import gradio as gr
import pytest

from conftest import require_shared
from restorers.models import registry
from webui import common, restore_tab


def test_pickers_say_which_models_can_run(hub_cache):
    labels = dict((name, label) for label, name in common.model_choices("baseline", "sr", "face"))
    assert labels["lanczos"] == "Lanczos (baseline) · ready"
    assert labels["realesrgan-x4plus"].endswith("· missing weights")  # offline, not cached
    assert common.runnable("lanczos", "realesrgan-x4plus", "gfpgan-v1.4") == ["lanczos"]


def test_downloadable_models_say_how_much(hub_cache, monkeypatch):
    monkeypatch.setattr(common.restorers, "weights_status", lambda spec: "downloadable")
    labels = dict((name, label) for label, name in common.model_choices("sr"))
    assert labels["realesrgan-x4plus"] == "Real-ESRGAN x4plus · downloads 67 MB on first use"
    # A state this page does not know counts as "cannot run" and is shown in words.
    monkeypatch.setattr(common.restorers, "weights_status", lambda spec: "hub_unreachable")
    assert common.model_choices("sr")[0][0].endswith("· weights hub unreachable")
    assert common.runnable("realesrgan-x4plus") == []


def test_examples_and_defaults_use_only_models_that_can_run(hub_cache):
    for row in restore_tab.example_rows():
        assert row[1] and set(row[1]) <= {"bicubic", "lanczos"}
    assert common.runnable(*restore_tab.PREFERRED_MODELS) == ["lanczos"]


def test_a_failed_run_in_the_page_clears_every_output_and_says_why(hub_cache):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    *_, (gallery, slider, compare, timings, faces, status, files, state) = restore_tab.run_restore_in_page(
        str(photo), ["realesrgan-x4plus"], 1.0)
    assert gallery == [] and slider is None and timings == [] and faces == [] and files is None and state == {}
    assert "studio-error" in status and "No model could run" in status and "**" not in status
    # The API endpoint still raises, so gradio_client users get an AppError.
    with pytest.raises(gr.Error, match="No model could run"):
        restore_tab.run_restore(str(photo), ["realesrgan-x4plus"], 1.0)


def test_plain_message_drops_temporary_paths_and_reprs():
    text = "/tmp/gradio/ab12/notes.png: not a readable image (cannot identify image file <_io.BytesIO object at 0x7f3a>)"
    assert common.plain_message(text, "/tmp/gradio/ab12/notes.png") == \
        "notes.png: not a readable image (not an image format we can decode)"


def test_score_chart_zooms_each_metric_and_labels_once():
    from webui.charts import PANEL_H, panel_range, score_chart

    low, high = panel_range([0.91, 0.93, 0.95])
    assert 0.85 < low < 0.91 and 0.95 < high < 1.0  # not the 0..1 axis that hid the differences
    low, high = panel_range([24.1, 27.9])  # PSNR in dB gets its own range
    assert 20 < low < 24.1 and 27.9 < high < 32
    summary = {"ssim": {"degraded": (0.91, 0.0), "bicubic": (0.93, 0.0), "lanczos": (0.95, 0.0)},
               "psnr": {"degraded": (24.1, 0.0), "bicubic": (26.0, 0.0), "lanczos": (27.9, 0.0)}}
    image = score_chart(summary, ["ssim", "psnr"], ["degraded", "bicubic", "lanczos"], {"ssim": "SSIM", "psnr": "PSNR"})
    assert image.ndim == 3 and image.shape[0] > PANEL_H and image.shape[1] >= 600
    # The tallest bar (lanczos) is drawn in the third legend colour, the shortest is short but not empty.
    assert (image == (219, 39, 119)).all(axis=2).sum() > 500


def test_measure_defaults_show_three_different_columns(hub_cache):
    """The tab's default degradation and models must give columns that differ."""
    import numpy as np

    from restorers.analysis.evaluate import evaluate
    from restorers.media.images import load_image
    from webui import measure_tab

    face = load_image(measure_tab.example("grace_hopper_face.png")).rgb[:128, :128]
    models = common.runnable(*measure_tab.PREFERRED_MODELS)
    assert models == ["bicubic", "lanczos"]
    result = evaluate([("f.png", face)], measure_tab.DEFAULT_SPEC, models, metrics=["psnr", "ssim"])
    summary = result.summary()
    assert result.columns == ["degraded", "bicubic", "lanczos"]
    assert len({round(summary["psnr"][c][0], 4) for c in result.columns}) == 3
    assert np.isfinite([summary["ssim"][c][0] for c in result.columns]).all()


def test_a_failed_download_keeps_the_models_table(hub_cache):
    from webui import models_tab

    table, cards, message = models_tab.download_now("realesrgan-x4plus")  # offline, not cached: fails
    assert len(table) == len(models_tab.models_table()) > 5
    assert "download failed" in message and "studio-error" in message and "RealESRGAN_x4plus.pth" in message


def test_bad_weights_files_are_not_offered_as_runnable(monkeypatch):
    monkeypatch.setattr(common.restorers, "weights_status", lambda spec: "cached-bad")
    assert common.model_choices("sr")[0][0].endswith("· weights file fails its check")
    assert common.runnable("realesrgan-x4plus") == []


def test_interpolate_examples_say_when_their_weights_are_missing(hub_cache):
    import app as app_module

    demo = app_module.create_demo()
    labels = [c["props"].get("label") or "" for c in demo.get_config_file()["components"] if c["type"] == "dataset"]
    walk = [label for label in labels if "StyleGAN2-ADA FFHQ" in label]
    assert walk and "missing here" in walk[0]


def test_pickers_refresh_their_states_when_the_page_opens(hub_cache, monkeypatch):
    with gr.Blocks() as demo:
        picker = gr.CheckboxGroup(common.model_choices(*common.PICKER_FAMILIES))
        common.refresh_pickers_on_load(demo, [picker])
    assert "missing weights" in str(picker.choices)
    monkeypatch.setattr(common.restorers, "weights_status", lambda spec: "cached")  # e.g. after "Download now"
    (update,) = list(demo.fns.values())[-1].fn(picker.value)
    assert all(label.endswith("· ready") for label, _ in update["choices"])


@pytest.fixture()
def hub_down(hub_cache, monkeypatch):
    """Online (no HF_HUB_OFFLINE) with an empty cache and a Hub whose probe fails, as with HF_ENDPOINT at a closed port."""
    from restorers.models import hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.forget_hub_failure()
    monkeypatch.setattr(hub, "_probe_hub", lambda weights, timeout: "ConnectError: connection refused")
    yield hub
    hub.forget_hub_failure()


def test_the_startup_probe_rules_out_downloads_when_the_hub_is_unreachable(hub_down):
    assert common.runnable("lanczos", "realesr-general-x4v3") == ["lanczos", "realesr-general-x4v3"]  # downloadable
    thread = registry.probe_hub()
    assert thread is not None
    thread.join(5)
    assert "could not be reached" in (hub_down.hub_unreachable() or "")
    assert common.runnable("lanczos", "realesr-general-x4v3", "gfpgan-v1.4") == ["lanczos"]
    assert dict((n, label) for label, n in common.model_choices("sr"))["realesr-general-x4v3"].endswith("missing weights")
    for row in restore_tab.example_rows():
        assert set(row[1]) <= {"bicubic", "lanczos"}
    assert registry.probe_hub() is None  # remembered: no second probe


def test_page_load_unticks_models_that_cannot_run_since_the_page_was_built(hub_down):
    with gr.Blocks() as demo:
        many = gr.CheckboxGroup(common.model_choices(*common.PICKER_FAMILIES),
                                value=common.runnable("lanczos", "realesr-general-x4v3"))
        one = gr.Dropdown(common.model_choices(*common.PICKER_FAMILIES), value=common.runnable("gfpgan-v1.4")[0])
        common.refresh_pickers_on_load(demo, [many, one])
    assert many.value == ["lanczos", "realesr-general-x4v3"] and one.value == "gfpgan-v1.4"  # built while downloadable
    hub_down.mark_hub_unreachable("ConnectError: connection refused")
    load = list(demo.fns.values())[-1]
    assert load.inputs == [many, one]
    update_many, update_one = load.fn(many.value, one.value)
    assert update_many["value"] == ["lanczos"] and update_one["value"] == common.FALLBACK_MODEL
    labels = dict((n, label) for label, n in update_many["choices"])
    assert labels["realesr-general-x4v3"].endswith("· missing weights") and labels["lanczos"].endswith("· ready")


def test_an_example_built_before_the_hub_was_found_unreachable_runs_only_what_can_run(hub_down):
    hub_down.mark_hub_unreachable("ConnectError: connection refused")
    *_, out = restore_tab.run_example(restore_tab.example("astronaut_face_low.png"),
                                      ["lanczos", "realesr-general-x4v3", "gfpgan-v1.4"], 1.0, "aligned")
    assert len(out[0]) == 1 and "The model ran." in out[5] and "could not" not in out[5]


def test_models_tab_says_once_above_the_table_why_weights_cannot_be_downloaded(hub_down):
    from webui import models_tab

    assert models_tab.hub_note() == ""  # the Hub not known to be down: nothing to say
    hub_down.mark_hub_unreachable("ConnectError: [Errno 111] Connection refused")
    note = models_tab.hub_note()
    assert "did not answer" in note and note.count("could not be reached") == 1  # the long reason, folded once
    states = {row[0]: row[2] for row in models_tab.models_table()}
    assert states["Real-ESRGAN general-x4v3"] == "MISSING: not cached"
    assert all(len(state) < 60 and "Hub" not in state for state in states.values())
    with gr.Blocks() as demo:  # each page opened shows the table and the note as they are now
        tab = models_tab.build_models_tab()
        models_tab.refresh_models_on_load(demo, tab)
    table, cards, note = list(demo.fns.values())[-1].fn()
    assert "MISSING: not cached" in cards and cards.count('class="model-card"') == len(table)
    assert "did not answer" in note and {row[0]: row[2] for row in table}["Real-ESRGAN general-x4v3"] == "MISSING: not cached"
    hub_down.forget_hub_failure()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        assert "Offline (HF_HUB_OFFLINE is set)" in models_tab.hub_note()
        assert {row[0]: row[2] for row in models_tab.models_table()}["Real-ESRGAN general-x4v3"] == "MISSING: not cached"
