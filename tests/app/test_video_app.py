"""The Video tab's endpoint (/video) through gradio_client, and its cost estimate."""
from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from restorers.media import video_io as media

CLIP = Path(__file__).resolve().parents[2] / "examples" / "portraits_pan.mp4"
# model, scale, background, only_center_face, min_face, threshold, blend, smooth, start, end, max_frames
DEFAULTS = ["lanczos", 1.5, "lanczos", False, 0, 0.97, 1.0, True]


def _path(value) -> str:
    return value["video"] if isinstance(value, dict) else value


def test_video_endpoint_restores_the_example_clip_with_its_sound(client):
    restored, compare, strip, status, files = client.predict(
        handle_file(str(CLIP)), *DEFAULTS, 0.5, None, 6, api_name="/video")
    info = media.probe(_path(restored))
    assert (info.width, info.height, info.fps, info.audio_codec) == (384, 288, 12, "aac")
    assert media.count_frames(_path(restored)) == (6, pytest.approx(0.5))
    side = media.probe(_path(compare))
    assert (side.width, side.height) == (768, 288) and media.count_frames(_path(compare))[0] == 6
    with Image.open(strip) as image:
        assert image.width > image.height
    assert "6 frames, 384x288 at 12 fps" in status and "sound copied" in status
    assert len(files) == 2


def test_video_endpoint_errors_are_clear(client, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(AppError, match="notes.mp4: not a readable video"):
        client.predict(handle_file(str(text)), *DEFAULTS, None, None, None, api_name="/video")
    with pytest.raises(AppError, match="past the end of the clip"):
        client.predict(handle_file(str(CLIP)), *DEFAULTS, 10, None, None, api_name="/video")


def test_cost_estimate_grows_with_the_model_and_the_frames():
    from webui.video_tab import estimate

    lanczos = estimate(str(CLIP), "lanczos", 2.0)
    gfpgan = estimate(str(CLIP), "gfpgan-v1.4", 2.0)
    part = estimate(str(CLIP), "gfpgan-v1.4", 2.0, max_frames=6)
    assert 0 < lanczos.seconds < part.seconds < gfpgan.seconds
    assert gfpgan.seconds == pytest.approx(part.seconds * 6, rel=0.5)  # 36 frames vs 6, one model load
    assert estimate(None, "lanczos").seconds == 0 and estimate(str(CLIP) + ".missing", "lanczos").seconds == 0


@pytest.mark.parametrize("position, value, message", [
    (6, float("nan"), "threshold must be a finite number"),       # NaN was silently replaced by the default
    (5, float("inf"), "min_face must be a finite number"),      # Infinity was an OverflowError
    (11, -3, "max_frames must be"),
])
def test_video_handler_names_a_bad_number_instead_of_guessing(position, value, message):
    from webui.video_tab import run_video

    args = [str(CLIP), *DEFAULTS, None, None, None]
    args[position] = value
    with pytest.raises(Exception, match=message) as caught:
        list(run_video(*args))
    assert type(caught.value).__name__ == "Error"  # a gr.Error: shown in the page as a sentence
