"""CodeFormer's fidelity weight w (one value) in Repeated Run and Video: the engine (a tiny CodeFormer through
the real hub path: w changes the output), the CLI (--fidelity), the /loop and /video endpoints (with and
without the argument) and clear errors for a bad w."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from restorers.cli import commands as cli
from restorers.media import images, video_io as media
from restorers.analysis import loop
from restorers.pipelines import video
from test_browser import browser  # noqa: F401 - fixture
from test_codeformer_app import face_path, tiny_registry  # noqa: F401 - fixtures

CLIP = Path(__file__).resolve().parents[2] / "examples" / "portraits_pan.mp4"
BAD_W = "fidelity must be between 0 and 1"


def _first_frame(path: Path) -> np.ndarray:
    frames = media.read_frames(media.probe(path), max_frames=1)
    try:
        return next(frames)
    finally:
        frames.close()


def test_loop_fidelity_changes_the_output(tiny_registry, face_path):  # noqa: F811
    face = images.load_image(face_path).rgb
    w0, w1 = (loop.run_loop("codeformer", face, runs=1, scale=0.25, fidelity=w) for w in (0.0, 1.0))
    assert w0.frames[1].shape == w1.frames[1].shape == (128, 128, 3)
    assert np.abs(w0.frames[1].astype(int) - w1.frames[1].astype(int)).mean() > 1.0
    assert w0.scores_vs_input[1] != w1.scores_vs_input[1]


def test_video_fidelity_changes_the_output(tiny_registry, tmp_path):  # noqa: F811
    outs = []
    for w in (0.0, 1.0):
        result = video.restore_video(CLIP, tmp_path / f"w{w:g}.mp4", "codeformer", scale=1, max_frames=1,
                                     only_center_face=True, audio=False, fidelity=w)
        assert result.frames == 1 and result.faces == 1
        outs.append(_first_frame(result.path).astype(int))
    assert np.abs(outs[0] - outs[1]).max() > 20  # the restored face differs; the rest is the same Lanczos frame


def test_engine_refuses_a_bad_weight_before_any_work(tmp_path):
    face = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=BAD_W):
        loop.run_loop("lanczos", face, runs=1, fidelity=1.5)
    with pytest.raises(ValueError, match="must be a number between 0 and 1"):
        loop.run_loop("codeformer", face, runs=1, fidelity="soft")
    with pytest.raises(ValueError, match=BAD_W):
        video.restore_video(CLIP, tmp_path / "x.mp4", "lanczos", fidelity=float("nan"))
    assert not list(tmp_path.iterdir())


def _spy(monkeypatch, module, name: str) -> list[float]:
    """Record the fidelity each call of module.name gets, and run the real function."""
    seen: list[float] = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get("fidelity"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_cli_loop_and_video_take_one_weight(monkeypatch, tmp_path, capsys):
    face = tmp_path / "face.png"
    images.save_png(face, np.full((24, 24, 3), 128, np.uint8))
    loops, videos = _spy(monkeypatch, loop, "run_loop"), _spy(monkeypatch, video, "process_video")
    base = ["loop", str(face), "-m", "lanczos", "--runs", "1", "-o", str(tmp_path / "t.gif")]
    assert cli.main(base + ["--fidelity", "0.25"]) == 0 and cli.main(base) == 0
    clip = ["video", str(CLIP), "-m", "lanczos", "--scale", "1", "--max-frames", "1", "--no-audio"]
    assert cli.main(clip + ["-o", str(tmp_path / "a.mp4"), "-w", "1"]) == 0
    assert cli.main(clip + ["-o", str(tmp_path / "b.mp4")]) == 0
    assert loops == [0.25, 0.5] and videos == [1.0, 0.5]  # the default is 0.5
    capsys.readouterr()
    for command in (base, clip + ["-o", str(tmp_path / "c.mp4")]):
        assert cli.main(command + ["--fidelity", "1.5"]) == 2
        err = capsys.readouterr().err
        assert f"error: --fidelity: {BAD_W} (0 = strongest restoration, 1 = most faithful), got 1.5" in err
        assert "Traceback" not in err
    assert len(loops) == len(videos) == 2 and not (tmp_path / "c.mp4").exists()


def test_loop_and_video_endpoints_take_fidelity_last(monkeypatch, client, face_path):  # noqa: F811
    from webui import loop_tab, video_tab

    loops, videos = _spy(monkeypatch, loop_tab, "run_loop"), _spy(monkeypatch, video_tab, "process_video")
    start = [handle_file(str(face_path)), "lanczos", 1, 0.5, None, 2]
    assert len(client.predict(*start, "0.7", api_name="/loop")[4]["data"]) == 2
    client.predict(*start, api_name="/loop")  # a client written before the argument existed
    # clip, model, scale, background, only_center_face, min_face, threshold, blend, smooth, start, end, max frames
    clip = [handle_file(str(CLIP)), "lanczos", 1.0, "lanczos", False, 0, 0.97, 1.0, True, None, None, 1]
    assert "1 frames" in client.predict(*clip, "0", api_name="/video")[3]
    client.predict(*clip, api_name="/video")
    assert loops == [0.7, 0.5] and videos == [0.0, 0.5]
    for args, api in ((start, "/loop"), (clip, "/video")):
        with pytest.raises(AppError, match=f"Fidelity weight: {BAD_W}"):
            client.predict(*args, "2", api_name=api)
        with pytest.raises(AppError, match="give one value here, got 2"):
            client.predict(*args, "0, 1", api_name=api)
    assert len(loops) == len(videos) == 2


def test_the_weight_box_follows_the_model():
    import app

    from webui.fidelity import show_fidelity

    wired = {(tuple(b.elem_id for b in dep.inputs), tuple(b.elem_id for b in dep.outputs))
             for dep in app.demo.fns.values() if dep.fn is show_fidelity}
    assert {(("loop-model",), ("loop-fidelity",)), (("video-model",), ("video-fidelity",))} <= wired
    assert show_fidelity("codeformer")["visible"] is True and show_fidelity("lanczos")["visible"] is False


@pytest.mark.browser
def test_browser_weight_box_shows_only_for_codeformer(browser, app_url):  # noqa: F811
    """Picking CodeFormer in Repeated Run and Video shows the w box; picking Lanczos hides it again."""
    from test_browser import TIMEOUT, open_tab

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    page.goto(app_url)
    page.wait_for_selector("#restore-run")
    for tab, prefix in (("Repeated Run", "loop"), ("Video", "video")):
        open_tab(page, tab)
        box = page.locator(f"#{prefix}-fidelity")
        for name, shown in (("CodeFormer", True), ("Lanczos (baseline)", False)):
            page.locator(f"#{prefix}-model input").click()
            page.get_by_role("option", name=name, exact=False).first.click()
            box.wait_for(state="visible" if shown else "hidden")
            assert box.is_visible() is shown
    page.close()
