"""Restore a video: every frame through one model, the sound kept, faces held steady.

`process_video` is a plain generator of `VideoProgress` events (the CLI prints them, the app draws them,
the tests assert on them); its last event carries the `VideoResult`. Frames stream from the decoder
through the model into the encoder one at a time (restorers.media), so memory stays flat however long
the clip is. Closing the generator early (a cancelled request), or a restorers.cancel deadline passing
(checked between frames), stops ffmpeg and removes partial files.

Face models run in whole-photo mode. Their detections are tracked from frame to frame and the
landmarks smoothed over time (restorers.track) before alignment and paste-back; `smooth=False` turns
that off.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..guards import cancel, limits
from ..media import images, video_io as media
from ..media.layout import contact_sheet
from ..models.registry import DEFAULT_THRESHOLD
from .restorer import DEFAULT_FIDELITY, Restorer, check_fidelity, make_restorer

STRIP_FRAMES = 5
STRIP_HEIGHT = 96


@dataclass
class VideoResult:
    path: Path  # the restored video
    side_by_side: Path | None  # before | after, same length, or None when not asked for
    strip: np.ndarray  # a few frames: before on the top row, after below
    frames: int
    fps: float
    size: tuple[int, int]  # (width, height) of the restored frames
    audio: str  # 'copied', 'aac' (re-encoded), 'none' (the clip has none), 'dropped' (asked to) or 'failed'
    # (the sound could not be put in the output container: the video is kept without it, see warnings)
    seconds: float
    model: str
    source: media.VideoInfo
    faces: int = 0  # face detections over all frames (face models)
    cuts: int = 0  # shot cuts seen (tracks reset there)
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.frames / self.fps


@dataclass
class VideoProgress:
    """One step of the work: `stage` is 'start', 'frame', 'audio' or 'done' (then `result` is set)."""

    stage: str
    done: int  # frames restored so far
    total: int  # frames expected (an estimate from the clip's duration until the end)
    elapsed: float  # seconds since the start
    fps: float  # frames restored per second so far
    message: str
    result: VideoResult | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, at the speed so far (None before the first frame)."""
        return (self.total - self.done) / self.fps if self.fps > 0 and self.total >= self.done else None


def _segment(info: media.VideoInfo, start: float | None, end: float | None) -> tuple[float, float]:
    """(start, seconds) of the part of the clip asked for, checked against its duration."""
    start = float(start or 0.0)
    if start < 0:
        raise media.MediaError(f"start must be >= 0 seconds, got {start:g}")
    length = info.duration if info.duration > 0 else None
    if length is not None and start >= length:
        raise media.MediaError(f"start ({start:g} s) is past the end of the clip ({length:.2f} s)")
    stop = end if end is not None else length
    if stop is not None and length is not None:
        stop = min(float(stop), length)
    if stop is not None and stop <= start:
        raise media.MediaError(f"end ({stop:g} s) must be after start ({start:g} s)")
    return start, (stop - start) if stop is not None else 0.0


def _thumb(frame: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(frame.shape[1] * height / frame.shape[0]))
    return images.resize(frame, (width, height), "lanczos" if frame.shape[0] > height else "bicubic")


def _temp_path(beside: Path, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile(dir=beside.parent, prefix=f".{beside.stem}-", suffix=suffix, delete=False) as f:
        return Path(f.name)


def process_video(
    source: str | Path,
    out: str | Path,
    model: str | Restorer,
    *,
    scale: float | None = None,
    side_by_side: str | Path | None = None,
    audio: bool = True,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    smooth: bool = True,
    background: str | None = "lanczos",
    only_center_face: bool = False,
    min_face: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    blend: float = 1.0,
    device: str | None = None,
    precision: str | None = None,
    strip_frames: int = STRIP_FRAMES,
    fidelity: float = DEFAULT_FIDELITY,
    mask: str | None = None,
) -> Iterator[VideoProgress]:
    """Restore `source` into `out` (.mp4, .mov or .mkv) frame by frame; yields progress, ends with the result.

    scale: output scale (default: the model's own, as for images; face models 2). side_by_side: also
    write before | after into this file. audio: keep the clip's sound (copied when the container
    allows, else AAC). start/end (seconds) and max_frames pick a part of the clip. Face options as in
    FaceRestorer.run; smooth: track faces and smooth their landmarks over time. fidelity: CodeFormer's
    weight w in [0, 1] (0 = strongest restoration, 1 = most faithful) for every frame; other models ignore it.
    mask: the faces' paste-back mask, 'parse' or 'square'; None: 'parse' when the face-parsing weights are
    here, else 'square' with a note (decided once for the whole clip).
    """
    started = time.perf_counter()
    out = Path(out)
    for target in (out, Path(side_by_side) if side_by_side else None):
        if target is not None and target.suffix.lower() not in media.OUTPUT_SUFFIXES:
            raise media.MediaError(f"{target.name}: the output must end in {', '.join(media.OUTPUT_SUFFIXES)}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    fidelity = check_fidelity(fidelity)  # for every model, before the clip is read
    info = media.probe(source)
    start_s, seconds = _segment(info, start, end)
    total = round(seconds * info.fps) if seconds > 0 else (max_frames or 0)
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
        seconds = min(seconds, total / info.fps) if seconds else total / info.fps

    restorer = model if isinstance(model, Restorer) else make_restorer(model, device, precision)
    is_face = restorer.spec.family == "face"
    options: dict = {"outscale": scale}
    if is_face:
        options.update(mode="whole", background=background, only_center_face=only_center_face,
                       min_face=min_face, threshold=threshold, blend=blend, fidelity=fidelity)
    mask_note = None
    if is_face:
        from .face_mask import resolve_mask

        options["mask"], mask_note = resolve_mask(restorer.check_options(mask=mask).get("mask"))
    options = restorer.check_options(**options)  # NaN, Infinity and out-of-range values: one sentence, up front
    min_face, threshold = options.get("min_face", 0), options.get("threshold", threshold)
    out_scale = restorer.output_scale(options)
    out_w, out_h = images.scaled_size(info.width, info.height, out_scale) if out_scale else (info.width, info.height)
    limits.check_video(seconds, total, info.width, info.height, out_w, out_h)

    tracker = detector = None
    if is_face:
        from . import face
        from .track import FaceTracker

        detector = face.default_detector()
        tracker = FaceTracker(fps=info.fps, smooth=smooth)

    picks = {int(round(i)) for i in np.linspace(0, max(total - 1, 0), max(1, min(strip_frames, total or 1)))}
    strip_before: list[np.ndarray] = []
    strip_after: list[np.ndarray] = []
    strip_labels: list[int] = []
    warnings: list[str] = []
    if info.variable_fps:
        warnings.append(f"variable frame rate: resampled to a constant {info.fps:g} fps")
    if info.rotation:
        warnings.append(f"rotated {info.rotation} degrees as the clip's metadata says")
    described = (f"{Path(info.path).name}: {info.width}x{info.height}, {info.fps:g} fps, {seconds:.1f} s "
                 f"-> {out_w}x{out_h} with {restorer.name}")
    yield VideoProgress("start", 0, total, time.perf_counter() - started, 0.0, described)

    video_tmp = _temp_path(out, out.suffix)
    sbs_path = Path(side_by_side) if side_by_side else None
    sbs_tmp = _temp_path(sbs_path, sbs_path.suffix) if sbs_path else None
    writer = media.VideoWriter(video_tmp, info.rate)
    sbs_writer = media.VideoWriter(sbs_tmp, info.rate) if sbs_tmp else None
    frames = detections = 0
    loop_start = time.perf_counter()
    finished = False
    try:
        # A clip whose header gives no duration (a browser recording, say) is held to the frame limit as
        # it is read: one frame past it is an error, not an endless job.
        frame_cap = limits.max_video_frames()
        reader = media.read_frames(info, start_s or None, start_s + seconds if seconds else None,
                                   max_frames if max_frames is not None else frame_cap + 1)
        try:
            for frame in reader:
                cancel.check()  # a request's time limit or a gone client stops here, between frames
                if frames >= frame_cap:
                    raise limits.LimitError(f"the clip has more than {frame_cap} frames; the limit is {frame_cap}. "
                                            f"Pick a part of it or raise ${limits.MAX_VIDEO_FRAMES_ENV}.")
                if is_face:
                    found = detector.detect(frame, threshold=threshold, min_size=min_face)
                    faces = tracker.update(frame, found)
                    result = restorer.run(frame, **options, faces=faces)
                    detections += len(result.faces)
                else:
                    result = restorer.run(frame, **options)
                restored = result.image
                writer.write(restored)
                before = None
                if sbs_writer is not None:
                    before = images.resize(frame, (restored.shape[1], restored.shape[0]), "lanczos")
                    sbs_writer.write(np.hstack([before, restored]))
                if frames in picks:
                    strip_before.append(_thumb(frame, STRIP_HEIGHT))
                    strip_after.append(images.resize(_thumb(restored, STRIP_HEIGHT), strip_before[-1].shape[1::-1]))
                    strip_labels.append(frames)
                frames += 1
                elapsed = time.perf_counter() - loop_start
                total = max(total, frames)
                yield VideoProgress("frame", frames, total, time.perf_counter() - started, frames / elapsed,
                                    f"frame {frames}/{total}")
        finally:
            reader.close()
        if frames == 0:
            raise media.MediaError(f"{Path(info.path).name}: no frames could be decoded from the part asked for")
        writer.close()
        if sbs_writer is not None:
            sbs_writer.close()
        fps = frames / (time.perf_counter() - loop_start)
        sound = "dropped" if not audio and info.has_audio else "none"
        duration = frames / float(info.rate)
        if audio and info.has_audio:
            yield VideoProgress("audio", frames, frames, time.perf_counter() - started, fps,
                                f"adding the sound ({info.audio_codec})")
        sound_lost = None
        for made, final in ((video_tmp, out), (sbs_tmp, sbs_path)):
            if made is None or final is None:
                continue
            if audio and sound_lost is None:
                try:
                    sound = media.mux_audio(made, info, final, start_s or None, duration)
                    continue
                except media.AudioMuxError as exc:
                    # Every restored frame is kept: the video goes out without its sound, and the note says why.
                    sound, sound_lost = "failed", exc.reason
            media.publish(made, final)
        finished = True
    finally:
        if not finished:  # an error or a cancelled request: stop ffmpeg, leave no partial files behind
            writer.abort()
            if sbs_writer is not None:
                sbs_writer.abort()
        for leftover in (video_tmp, sbs_tmp):
            if leftover is not None:
                leftover.unlink(missing_ok=True)

    if is_face and detections == 0:
        warnings.append("no face found in any frame: the frames were only upscaled")
    elif mask_note:
        warnings.append(mask_note)
    if sound == "failed":
        warnings.append(f"the sound ({info.audio_codec}) could not be added to {out.suffix} ({sound_lost}): "
                        "the restored video has no sound")
    if sound == "aac":
        warnings.append(f"the sound ({info.audio_codec}) cannot be copied into {out.suffix}: re-encoded to AAC")
    labels = [f"#{i} in" for i in strip_labels] + [f"#{i} out" for i in strip_labels]
    strip = contact_sheet(strip_before + strip_after, labels, columns=len(strip_before), gap=2)
    result = VideoResult(
        path=out, side_by_side=sbs_path, strip=strip, frames=frames, fps=float(info.rate),
        size=(out_w, out_h), audio=sound, seconds=time.perf_counter() - started, model=restorer.name,
        source=info, faces=detections, cuts=tracker.cuts if tracker else 0, warnings=warnings,
    )
    yield VideoProgress("done", frames, frames, result.seconds, fps, f"{frames} frames in {result.seconds:.1f} s",
                        result)


def restore_video(source: str | Path, out: str | Path, model: str | Restorer, **options) -> VideoResult:
    """Run `process_video` to the end and return its result (the Python API's one-call form)."""
    for event in process_video(source, out, model, **options):
        if event.result is not None:
            return event.result
    raise RuntimeError("video processing ended without a result")  # pragma: no cover - process_video always ends so
