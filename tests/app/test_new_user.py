"""What a new user met (issue 22, items 15-19): a stopped video says it stopped, a bad own checkpoint does not
stop the ticked models, model labels do not drift back to "downloads" while the Hub is still down, and an image
too small to score is named when it arrives."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from webui import loop_tab, measure_tab, restore_tab, video_tab

EXAMPLE = "examples/grace_hopper_face.png"


def test_stop_turns_the_video_progress_line_into_where_it_stopped():
    running = video_tab.status_html("Restoring: frame 67 of 1000 at 7.0 fps, about 2.3 min left.")
    stopped = video_tab.stopped_status(running)
    assert "Stopped at frame 67 of 1000" in stopped and "min left" not in stopped
    assert "Stopped." in video_tab.stopped_status(None)


def test_the_stop_button_writes_the_status_and_cancels_the_run():
    import app

    demo = app.create_demo()
    stop = [fn for fn in demo.fns.values() if fn.fn is video_tab.stopped_status]
    assert len(stop) == 1 and [b._id for b in stop[0].outputs] == [b._id for b in stop[0].inputs]  # the status
    # gradio adds the cancelling as a function of its own on the same click
    assert any(fn.cancels and fn.targets == stop[0].targets for fn in demo.fns.values())


@pytest.mark.parametrize("content", [b"hello world\n", bytes(range(256)) * 12])
def test_an_unreadable_own_checkpoint_is_said_in_words_and_the_ticked_models_still_run(tmp_path, content):
    bad = tmp_path / "mine.pth"
    bad.write_bytes(content)
    gallery, *_, status, files, _ = restore_tab.run_restore(EXAMPLE, ["lanczos"], 2, checkpoint=str(bad))
    assert [caption.split(" · ")[0] for _, caption in gallery] == ["Lanczos (baseline)"]
    assert "1 of 2 models ran" in status and "mine.pth" in status
    assert "weights_only" not in status and "Unpickling" not in status and str(tmp_path) not in status


def test_an_unreadable_own_checkpoint_alone_is_an_error_in_words(tmp_path):
    bad = tmp_path / "mine.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="Your checkpoint") as caught:
        restore_tab.run_restore(EXAMPLE, [], 2, checkpoint=str(bad))
    assert "weights_only" not in str(caught.value)


def test_labels_keep_saying_missing_after_the_hub_failure_ages_until_the_hub_answers(hub_cache, monkeypatch):
    from restorers.models import hub, registry

    spec = registry.get_spec("realesr-general-x4v3")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv(hub.HUB_RETRY_ENV, "0.2")
    answers = ["ConnectError: refused", "ConnectError: refused", None]
    probes = []

    def probe(weights, timeout):
        probes.append(weights.filename)
        return answers[min(len(probes) - 1, len(answers) - 1)]

    monkeypatch.setattr(hub, "_probe_hub", probe)
    hub.forget_hub_failure()
    try:
        hub.mark_hub_unreachable("ConnectError: refused")
        assert hub.check(spec.weights).state == "missing"
        time.sleep(0.3)  # the remembered failure is now older than the retry interval
        seen = hub.check(spec.weights)
        assert seen.state == "missing" and "asking again" in seen.reason  # not "downloadable" on no evidence
        deadline = time.monotonic() + 5
        while hub.check(spec.weights).state != "downloadable" and time.monotonic() < deadline:
            time.sleep(0.35)  # each check past the interval starts one background probe; the third answers
        assert hub.check(spec.weights).state == "downloadable" and len(probes) >= 2
    finally:
        hub.forget_hub_failure()


def test_an_image_too_small_to_score_is_named_when_it_arrives(tmp_path):
    tiny = tmp_path / "dot.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    for message in (loop_tab.check_start_image(str(tiny)), measure_tab.check_clean_images([str(tiny), EXAMPLE])):
        assert "dot.png is 1x1 px" in message and "11x11" in message and "studio-warn" in message
    assert loop_tab.check_start_image(EXAMPLE) == "" and measure_tab.check_clean_images([EXAMPLE]) == ""
