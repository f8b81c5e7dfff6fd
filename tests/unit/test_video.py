"""Video in, restored video out (restorers.media, restorers.pipelines.video, restorers.pipelines.track) on tiny generated
clips: frame count, frame rate, duration, sound (copied or re-encoded, same length), rotation, odd sizes,
GIFs, parts of a clip, progress events, cancellation, limits and clear errors."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require_shared
from restorers.media import images, video_io as media
from restorers.guards import limits
from restorers.pipelines import track, video
from restorers.pipelines.face import Face

W, H, FPS, FRAMES = 64, 48, 25, 10
EXAMPLE_CLIP = Path(__file__).resolve().parents[2] / "examples" / "portraits_pan.mp4"


def ffmpeg(*args: str) -> None:
    subprocess.run([media.ffmpeg_exe(), "-y", "-v", "error", *args], check=True)


def audio_seconds(path: Path) -> float:
    """Length of the first audio stream, from its decoded samples (mono, 8 kHz, 16-bit)."""
    pcm = subprocess.run([media.ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le",
                          "-ac", "1", "-ar", "8000", "-"], capture_output=True, check=True).stdout
    return len(pcm) / 2 / 8000


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    picture = ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    seconds = ["-t", f"{FRAMES / FPS}"]
    x264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    out = {name: folder / name for name in ["sound.mp4", "silent.mp4", "rotated.mp4", "odd.mkv", "anim.gif"]}
    ffmpeg(*picture, *tone, *seconds, *x264, "-c:a", "aac", "-shortest", str(out["sound.mp4"]))
    ffmpeg(*picture, *seconds, *x264, str(out["silent.mp4"]))
    ffmpeg("-display_rotation", "90", "-i", str(out["sound.mp4"]), "-c", "copy", str(out["rotated.mp4"]))
    # Odd size (lossless FFV1 takes it) and a PCM sound track, which an MP4 cannot hold as it is.
    ffmpeg(*picture, *tone, *seconds, "-vf", "scale=65:49", "-c:v", "ffv1",
           "-c:a", "pcm_s16le", "-shortest", str(out["odd.mkv"]))
    media.write_gif([np.full((H, W, 3), 20 * i, np.uint8) for i in range(FRAMES)], out["anim.gif"], fps=10)
    # Variable frame rate: 5 frames at 10 fps, then 10 at 25 fps, timestamps kept (MKV stores no average).
    out["vfr.mkv"] = folder / "vfr.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=10:duration=0.5", "-f", "lavfi", "-i",
           f"testsrc2=size={W}x{H}:rate=25:duration=0.4", "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]",
           "-map", "[v]", "-fps_mode", "vfr", *x264, str(out["vfr.mkv"]))
    return out


def run(source: Path, out: Path, model: str = "lanczos", **options) -> tuple[list[video.VideoProgress], video.VideoResult]:
    events = list(video.process_video(source, out, model, **options))
    assert events[-1].stage == "done" and events[-1].result is not None
    return events, events[-1].result


def test_clip_with_sound_keeps_frames_rate_duration_and_sound(clips, tmp_path):
    events, result = run(clips["sound.mp4"], tmp_path / "out.mp4", scale=2, side_by_side=tmp_path / "sbs.mp4")
    assert media.count_frames(result.path) == (FRAMES, pytest.approx(FRAMES / FPS))
    info = media.probe(result.path)
    assert (info.width, info.height, info.fps, info.codec) == (2 * W, 2 * H, FPS, "h264")
    assert result.audio == "copied" and info.audio_codec == "aac"
    assert audio_seconds(result.path) == pytest.approx(FRAMES / FPS, abs=0.05)
    assert audio_seconds(clips["sound.mp4"]) == pytest.approx(FRAMES / FPS, abs=0.05)
    side = media.probe(result.side_by_side)
    assert (side.width, side.height) == (4 * W, 2 * H) and media.count_frames(result.side_by_side)[0] == FRAMES
    # Each output frame is the model's output: compare one with Lanczos run on the input frame.
    original = list(media.read_frames(media.probe(clips["sound.mp4"])))
    restored = list(media.read_frames(info))
    expected = images.resize(original[4], (2 * W, 2 * H), "lanczos")
    diff = lambda a, b: np.abs(a.astype(int) - b.astype(int)).mean()  # noqa: E731
    # H.264 (crf 18, yuv420p on a saturated test pattern) costs a few grey levels.
    assert diff(restored[4], expected) < 6
    before_half = list(media.read_frames(side))[4][:, : 2 * W]
    assert diff(before_half, expected) < 6
    assert result.strip.ndim == 3 and result.strip.shape[1] > result.strip.shape[0]
    # Progress: start, one event per frame with growing counts and a speed, the sound, then done.
    stages = [e.stage for e in events]
    assert stages == ["start"] + ["frame"] * FRAMES + ["audio", "done"]
    frames = [e for e in events if e.stage == "frame"]
    assert [e.done for e in frames] == list(range(1, FRAMES + 1)) and all(e.total == FRAMES for e in frames)
    assert all(e.fps > 0 for e in frames) and frames[-1].eta == 0 and frames[0].fraction == pytest.approx(0.1)


def test_clip_without_sound_and_no_audio_option(clips, tmp_path):
    _, silent = run(clips["silent.mp4"], tmp_path / "silent.mp4")
    assert silent.audio == "none" and media.has_audio_stream(silent.path) is None
    _, dropped = run(clips["sound.mp4"], tmp_path / "dropped.mp4", audio=False)
    assert dropped.audio == "dropped" and media.has_audio_stream(dropped.path) is None
    assert silent.size == (4 * W, 4 * H)  # Lanczos defaults to x4, as for images


def test_rotated_phone_clip_comes_out_upright(clips, tmp_path):
    info = media.probe(clips["rotated.mp4"])
    assert info.rotation in (90, 270) and (info.width, info.height) == (H, W)
    _, result = run(clips["rotated.mp4"], tmp_path / "upright.mp4", scale=1)
    out = media.probe(result.path)
    assert (out.width, out.height, out.rotation) == (H, W, 0)
    first = next(media.read_frames(out))
    source = next(media.read_frames(media.probe(clips["sound.mp4"])))
    turned = [np.abs(first.astype(int) - np.rot90(source, k).astype(int)).mean() for k in (1, 3)]
    assert min(turned) < 6


def test_odd_size_is_padded_and_pcm_sound_reencoded_to_aac(clips, tmp_path):
    _, result = run(clips["odd.mkv"], tmp_path / "odd.mp4", scale=1)
    out = media.probe(result.path)
    assert result.size == (65, 49) and (out.width, out.height) == (66, 50)  # yuv420p needs even sides
    assert result.audio == "aac" and out.audio_codec == "aac"
    assert any("re-encoded to AAC" in w for w in result.warnings)
    assert audio_seconds(result.path) == pytest.approx(FRAMES / FPS, abs=0.06)
    # The same clip into MKV keeps the PCM sound as it is.
    _, kept = run(clips["odd.mkv"], tmp_path / "odd.mkv", scale=1)
    assert kept.audio == "copied" and media.probe(kept.path).audio_codec == "pcm_s16le"


def test_animated_gif_in(clips, tmp_path):
    _, result = run(clips["anim.gif"], tmp_path / "gif.mp4", scale=1)
    assert media.count_frames(result.path) == (FRAMES, pytest.approx(1.0))
    assert result.fps == 10 and result.audio == "none"
    frames = list(media.read_frames(media.probe(result.path)))
    assert [int(round(f.mean())) for f in frames] == pytest.approx([20 * i for i in range(FRAMES)], abs=2)


def test_variable_frame_rate_is_resampled_to_its_average_rate(clips, tmp_path):
    info = media.probe(clips["vfr.mkv"])
    assert info.variable_fps and info.fps == pytest.approx(15 / 0.9, rel=0.05)  # 15 frames in 0.9 s
    _, result = run(clips["vfr.mkv"], tmp_path / "cfr.mp4", scale=1)
    frames, seconds = media.count_frames(result.path)
    assert frames in (15, 16) and seconds == pytest.approx(0.9, abs=0.1)  # duration kept, no 50 fps blow-up
    assert any("variable frame rate" in w for w in result.warnings)


def test_part_of_a_clip(clips, tmp_path):
    _, first = run(clips["sound.mp4"], tmp_path / "first.mp4", scale=1, max_frames=4)
    assert media.count_frames(first.path)[0] == 4 and first.duration == pytest.approx(0.16)
    assert audio_seconds(first.path) == pytest.approx(0.16, abs=0.05)
    _, middle = run(clips["sound.mp4"], tmp_path / "middle.mp4", scale=1, start=0.12, end=0.32)
    assert media.count_frames(middle.path)[0] == 5
    assert audio_seconds(middle.path) == pytest.approx(0.2, abs=0.05)
    with pytest.raises(media.MediaError, match="past the end"):
        run(clips["sound.mp4"], tmp_path / "late.mp4", start=5)


def test_cancelling_stops_and_leaves_no_files(clips, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    events = video.process_video(clips["sound.mp4"], folder / "out.mp4", "lanczos", side_by_side=folder / "s.mp4")
    for event in events:
        if event.stage == "frame" and event.done == 3:
            break
    events.close()  # what a cancelled request does
    assert list(folder.iterdir()) == []


def test_bad_inputs_give_clear_errors(clips, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["sound.mp4"].read_bytes()[:1500])
    for path in (text, broken):
        with pytest.raises(media.MediaError, match="not a readable video"):
            run(path, tmp_path / "x.mp4")
    photo = tmp_path / "photo.png"
    images.save_png(photo, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(media.MediaError, match="still image"):
        media.probe(photo)
    with pytest.raises(media.MediaError, match="no such file"):
        media.probe(tmp_path / "missing.mp4")
    with pytest.raises(media.MediaError, match="must end in"):
        run(clips["sound.mp4"], tmp_path / "x.avi")
    assert list(tmp_path.glob(".x*")) == []


def test_limits_are_settings_with_clear_messages(clips, tmp_path, monkeypatch):
    monkeypatch.setenv(limits.MAX_VIDEO_FRAMES_ENV, "5")
    with pytest.raises(limits.LimitError, match=r"about 10 frames; the limit is 5.*RESTORERS_MAX_VIDEO_FRAMES"):
        run(clips["sound.mp4"], tmp_path / "x.mp4")
    run(clips["sound.mp4"], tmp_path / "x.mp4", max_frames=5, scale=1)  # a part of it fits
    # A clip whose header gives no duration is held to the frame limit while it is read.
    import dataclasses

    probe = media.probe
    monkeypatch.setattr(media, "probe", lambda path: dataclasses.replace(probe(path), duration=0.0))
    with pytest.raises(limits.LimitError, match="more than 5 frames"):
        run(clips["sound.mp4"], tmp_path / "endless.mp4")
    assert not list(tmp_path.glob("*endless*"))
    monkeypatch.setattr(media, "probe", probe)
    monkeypatch.setenv(limits.MAX_VIDEO_OUTPUT_PIXELS_ENV, str(100 * 100))
    with pytest.raises(limits.LimitError, match="256x192.*lower output scale"):
        run(clips["sound.mp4"], tmp_path / "x.mp4", max_frames=2, scale=4)
    monkeypatch.setenv(limits.MAX_VIDEO_SECONDS_ENV, "0.2")
    with pytest.raises(limits.LimitError, match="0.4 s long"):
        run(clips["sound.mp4"], tmp_path / "x.mp4", scale=1)


def test_odd_frames_are_padded_by_the_writer(tmp_path):
    frames = [np.full((5, 7, 3), 40 * i, np.uint8) for i in range(3)]
    path = media.write_mp4(frames, tmp_path / "odd.mp4", fps=5)
    info = media.probe(path)
    assert (info.width, info.height) == (8, 6) and media.count_frames(path)[0] == 3
    with pytest.raises(ValueError, match="is 6x5"):
        with media.VideoWriter(tmp_path / "mixed.mp4", 5) as writer:
            writer.write(frames[0])
            writer.write(np.zeros((5, 6, 3), np.uint8))
    assert not (tmp_path / "mixed.mp4").exists()


# --- steady faces --------------------------------------------------------------------------------

def _face(x: float, y: float, size: float = 40.0) -> Face:
    marks = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]) * size + [x, y]
    return Face((x, y, x + size, y + size), marks, 0.99)


def test_one_euro_filter_steadies_a_still_point_and_follows_motion():
    rng = np.random.default_rng(0)
    still = np.array([[10.0, 20.0]]) + rng.normal(0, 0.3, (100, 1, 2))  # detector noise, ~0.3 px
    for predict, factor in ((False, 0.6), (True, 0.8)):  # the lag compensation lets a little noise back in
        smooth = track.OneEuroFilter(1 / 25, predict=predict)
        filtered = np.array([smooth(p, scale=40.0) for p in still])  # a face 40 px between the eyes
        assert filtered[20:].std(0).max() < factor * still[20:].std(0).min()
    # A steady move (2.5 eye distances per second): the plain filter trails it, the compensated one does not.
    path = [np.array([[100.0 * t / 25, 0.0]]) for t in range(50)]
    lags = {}
    for predict in (False, True):
        moving = track.OneEuroFilter(1 / 25, predict=predict)
        lags[predict] = abs(path[-1][0, 0] - [moving(p, scale=40.0) for p in path][-1][0, 0])
    assert lags[True] < 0.1 < 1.0 < lags[False]


def test_tracker_keeps_identities_and_resets_at_cuts():
    frame_a = np.zeros((64, 64, 3), np.uint8)
    frame_b = np.full((64, 64, 3), 255, np.uint8)
    tracker = track.FaceTracker(fps=25)
    tracker.update(frame_a, [_face(0, 0), _face(100, 0)])
    ids = [t.ident for t in tracker.tracks]
    tracker.update(frame_a, [_face(101, 1), _face(1, 0)])  # reordered, moved a little
    assert [t.ident for t in tracker.tracks] == ids[::-1] and tracker.tracks[0].length == 2
    tracker.update(frame_b, [_face(1, 0)])  # a cut: a fresh track
    assert tracker.cuts == 1 and tracker.tracks[0].ident == 2 and tracker.tracks[0].length == 1
    raw = _face(3, 0)
    assert track.FaceTracker(fps=25, smooth=False).update(frame_a, [raw])[0] is raw


def test_smoothing_reduces_landmark_jitter_on_a_face_moving_on_a_known_path():
    """A real face (../shared) glides on a known path with sub-pixel noise; detections from the real
    RetinaFace, raw vs tracked + smoothed, compared with the true landmarks."""
    from benchmarks.bench_video import detect_all, steady_clip, track_landmarks

    frames, truth = steady_clip(require_shared("faces", "ffhq-gt", "00002.png"), count=20, side=160)
    found = detect_all(frames)
    raw = track_landmarks(frames, found, smooth=False)
    steady = track_landmarks(frames, found, smooth=True)
    jitter = lambda marks: float(np.abs(np.diff(marks - truth, n=2, axis=0)).mean())  # noqa: E731
    assert jitter(steady) < 0.6 * jitter(raw)
    error = lambda marks: float(np.linalg.norm(marks - truth, axis=2)[6:].mean())  # noqa: E731
    assert error(steady) < error(raw) + 2.0  # it follows the motion: a lag of a pixel or so at most


def test_face_model_on_the_example_clip(hub_cache, tmp_path):
    from test_restore_faces import tiny_spec

    from restorers.models.registry import GPEN_BFR_512

    spec = tiny_spec(hub_cache, "gpen/case_gpen_128.pt", GPEN_BFR_512, 128, wrap=None)
    import restorers

    restorer = restorers.load(spec, device="cpu")
    _, result = run(EXAMPLE_CLIP, tmp_path / "faces.mp4", restorer, scale=1, max_frames=4,
                    side_by_side=tmp_path / "sbs.mp4")
    assert result.frames == 4 and result.faces >= 4 and result.size == (256, 192)
    assert result.audio == "copied" and audio_seconds(result.path) == pytest.approx(4 / 12, abs=0.05)
    assert media.probe(result.side_by_side).width == 512


def test_command_line_and_python_api(clips, tmp_path, capsys):
    from restorers.cli.commands import main

    out, side, strip = tmp_path / "cli.mp4", tmp_path / "cli-sbs.mp4", tmp_path / "strip.png"
    code = main(["video", str(clips["sound.mp4"]), "--model", "lanczos", "--scale", "1.5", "--out", str(out),
                 "--side-by-side", str(side), "--strip", str(strip), "--max-frames", "6"])
    printed = capsys.readouterr()
    assert code == 0 and f"{out}: 6 frames, 96x72, 25 fps, 0.24 s, sound copied" in printed.out
    assert f"side by side: {side}" in printed.out and strip.is_file() and "frames" in printed.err
    assert media.count_frames(out)[0] == 6 and media.probe(side).width == 192
    code = main(["video", str(clips["silent.mp4"]), "-m", "lanczos", "-o", str(tmp_path / "b.mp4"),
                 "--start", "0.2", "--end", "0.3", "--no-audio"])
    assert code == 0 and "b.mp4: 3 frames" in capsys.readouterr().out
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    assert main(["video", str(bad), "-m", "lanczos", "-o", str(tmp_path / "c.mp4")]) == 2
    assert "error: notes.mp4: not a readable video" in capsys.readouterr().err

    import restorers

    result = restorers.restore_video(clips["sound.mp4"], tmp_path / "api.mp4", "lanczos", scale=1, max_frames=2)
    assert isinstance(result, restorers.VideoResult) and result.frames == 2 and result.audio == "copied"
    with pytest.raises(restorers.MediaError, match="no such file"):
        restorers.restore_video(tmp_path / "nope.mp4", tmp_path / "x.mp4", "lanczos")
