"""Issue 22, items 6-8: every request is estimated from what will really run, and loading obeys the deadline.

Payloads are generated here: a raw H.264 stream named .mp4, a zip with text files before its images (as
.zip, renamed .png, and appended to a PNG), your own checkpoint alone, a DCGAN zip of many members.
"""
from __future__ import annotations

import io
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorers.analysis import budget
from restorers.dcgan.data import count_images, load_images
from restorers.guards import cancel, limits
from restorers.media import uploads, video_io
from restorers.pipelines import video
from webui import costs, dcgan_tab, video_tab


def _png(width: int, height: int, mode: str = "L", seed: int | None = None) -> bytes:
    buffer = io.BytesIO()
    if seed is None:
        image = Image.new(mode, (width, height))
    else:
        image = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


# --- 6: a video whose container gives no duration --------------------------------------------------------


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory) -> Path:
    """120 frames of 64x48 at 25 fps as a raw H.264 stream, named .mp4 (ffmpeg -f h264: no duration)."""
    path = tmp_path_factory.mktemp("video") / "raw.mp4"
    subprocess.run([video_io.ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-frames:v", "120", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264", str(path)], check=True)
    return path


def test_video_without_duration_is_counted_and_budgeted(raw_h264: Path) -> None:
    info = video_io.probe(raw_h264)
    assert info.frames == 120 and info.duration == pytest.approx(4.8)
    estimate = video_tab.estimate(str(raw_h264), "lanczos", 2.0)
    assert any("on 120 frames" in what for what, _ in estimate.parts), estimate.parts


def test_video_without_duration_is_refused_at_the_frame_limit_before_any_frame(raw_h264: Path, tmp_path: Path,
                                                                               monkeypatch) -> None:
    monkeypatch.setenv(limits.MAX_VIDEO_FRAMES_ENV, "50")
    started = time.perf_counter()
    with pytest.raises(limits.LimitError, match="the clip has about 51 frames; the limit is 50"):
        next(video.process_video(raw_h264, tmp_path / "out.mp4", "lanczos"))
    assert time.perf_counter() - started < 2.0
    assert not list(tmp_path.iterdir())


# --- 7: /evaluate, /restore with your checkpoint, the DCGAN lab --------------------------------------------


@pytest.fixture(scope="module")
def text_then_images(tmp_path_factory) -> dict[str, Path]:
    """64 .txt entries before 24 PNGs of 4096x4096: as a .zip, the same renamed .png, and a PNG+zip polyglot."""
    folder = tmp_path_factory.mktemp("eval")
    big = _png(4096, 4096)
    data = _zip([(f"a{k:02d}.txt", b"notes") for k in range(64)] + [(f"z{k:02d}.png", big) for k in range(24)])
    paths = {"zip": folder / "set.zip", "renamed": folder / "set.png", "polyglot": folder / "poly.png"}
    paths["zip"].write_bytes(data)
    paths["renamed"].write_bytes(data)
    paths["polyglot"].write_bytes(_png(16, 16) + data)  # zipfile opens it: offsets are relative to the end
    return paths


def test_evaluate_estimate_counts_every_image_member_whatever_the_file_is_called(text_then_images) -> None:
    estimates = {}
    for kind, path in text_then_images.items():
        assert uploads.is_zip_upload(path), kind
        assert costs.upload_sizes([str(path)]) == [(4096, 4096)] * 24, kind
        estimates[kind] = costs.evaluate([str(path)], "downscale:4", 0, ["lanczos"], ["ssim", "psnr"])
    assert len({round(e.seconds, 6) for e in estimates.values()}) == 1
    assert estimates["zip"].seconds > 0
    # The reader takes the polyglot and the renamed zip as the same 24 images (refused as a batch here).
    for path in text_then_images.values():
        with pytest.raises(uploads.UploadError, match="holds 24 images; at most 4"):
            uploads.read_batch([path], 4)


def test_restore_with_only_your_checkpoint_is_estimated(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(_png(1024, 1024, "RGB", seed=0))
    weights = tmp_path / "mine.pth"
    weights.write_bytes(b"\0" * 4_000_000)  # 2 M parameters if fp16: the estimate reads only the size
    estimate = costs.restore(str(photo), [], 2.0, "whole", "lanczos", False, 0, 0.9, 1.0, "0.5", str(weights))
    assert estimate.seconds > 2 * budget.MODEL_LOAD_S
    assert [what for what, _ in estimate.parts] == ["your checkpoint"]
    none = costs.restore(str(photo), [], 2.0, "whole", "lanczos", False, 0, 0.9, 1.0, "0.5", None)
    assert none.seconds == 0


def test_dcgan_lab_counts_every_zip_member(tmp_path: Path) -> None:
    archive = tmp_path / "faces.zip"
    archive.write_bytes(_zip([(f"img{k:03d}.png", _png(8, 8)) for k in range(150)] + [(".hidden.png", b"x")]))
    assert count_images([archive]) == 150
    estimate = dcgan_tab.train_cost("upload", [str(archive)], "flowers-102", 32, 1)
    assert estimate.parts[0][0] == "training 150 images for 1 epochs"


# --- 8: DCGAN data loading stops at the time limit and on cancel -------------------------------------------


@pytest.fixture(scope="module")
def many_photos_zip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dcgan") / "photos.zip"
    path.write_bytes(_zip([(f"p{k:03d}.png", _png(512, 512, "RGB", seed=k)) for k in range(60)]))
    return path


def test_dcgan_loading_stops_at_the_time_limit(many_photos_zip: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(cancel.Cancelled, match="time limit of 0.3 s"):
        with cancel.deadline(0.3):
            load_images([many_photos_zip], 32)
    assert time.perf_counter() - started < 1.5


def test_dcgan_loading_stops_when_the_client_goes(many_photos_zip: Path) -> None:
    seen = []

    def gone() -> bool:
        seen.append(1)
        return len(seen) > 3

    with pytest.raises(cancel.Cancelled, match="cancelled or its client disconnected"):
        with cancel.deadline(None, gone):
            load_images([many_photos_zip], 32)
    assert len(seen) == 4  # checked once per image: stopped at the fourth
