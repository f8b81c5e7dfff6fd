"""Reading and writing media: video frames (with their sound), animated GIFs and MP4s.

The one module that talks to ffmpeg (the binary bundled with imageio-ffmpeg). Frames are numpy uint8
HxWx3 RGB arrays, the package's image contract, and they stream: a clip is read one frame at a time
and written one frame at a time through ffmpeg's pipes, so memory does not grow with its length.

What ffmpeg does for us, and what we do ourselves:
- rotation metadata (phone videos) is applied by ffmpeg's decoder (autorotate, on by default), so
  frames come out upright and `VideoInfo.width/height` are the upright size;
- H.264 in yuv420p needs even sizes: odd frames are padded by repeating the last row/column;
- variable frame rate clips are resampled to constant frame rate at their average rate (frames are
  duplicated or dropped by ffmpeg), so the output keeps the clip's duration and stays in sync with
  its sound;
- the sound track is copied as it is when the output container can hold its codec, else re-encoded
  to AAC.
"""
from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from ..guards.limits import MAX_FPS, MIN_FPS, max_video_frames
from .atomic import atomic_output, partial_path, publish
from ..guards.validate import check_number

# GIF delays are stored in centiseconds, and most browsers replace delays under 20 ms by 100 ms.
_GIF_DELAY_QUANTUM_MS = 10
_GIF_MIN_DELAY_MS = 20

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif", ".m4v")
OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv")
# Audio codecs each output container takes as they are (what browsers and players accept there);
# anything else is re-encoded to AAC.
COPYABLE_AUDIO = {
    ".mp4": {"aac", "mp3", "alac"},
    ".mov": {"aac", "mp3", "alac", "pcm_s16le", "pcm_s24le"},
    ".mkv": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"},
}
AAC_BITRATE = "192k"
# libx264 settings of every video we write: visually lossless for a comparison, fast to encode.
X264_CRF = 18
X264_PRESET = "veryfast"
# Demuxers of still images: ffmpeg opens a JPEG or PNG as a one-frame "video"; we refuse them.
_STILL_DEMUXERS = ("image2", "_pipe", "png", "jpeg", "webp", "bmp", "tiff")


class _RotationNote(logging.Filter):
    """imageio-ffmpeg warns when decoded frames differ in size from the stored ones: with rotation
    metadata that is exactly what we want, so that warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_RotationNote())


class MediaError(ValueError):
    """A file the user gave cannot be read as a video, or a video cannot be written."""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # deferred: locating the binary is only needed when media is touched

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------------------------------------
# Probing
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns from ffmpeg's description of a file (sizes are upright, after rotation)."""

    path: str
    width: int
    height: int
    fps: float  # average frame rate
    duration: float  # seconds (0.0 when the container does not say)
    codec: str
    rotation: int = 0  # degrees the decoder turns the frames (0, 90, 180, 270)
    audio_codec: str | None = None
    variable_fps: bool = False  # the average and the base frame rate differ: resampled to `fps`

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def frames(self) -> int:
        """Estimated frame count (duration x fps); exact for constant-rate clips."""
        return max(1, round(self.duration * self.fps)) if self.duration > 0 else 0

    @property
    def rate(self) -> Fraction:
        """`fps` as a fraction ffmpeg can take exactly (29.97 -> 30000/1001)."""
        return frame_rate(self.fps)


def frame_rate(fps: float) -> Fraction:
    if not fps > 0:
        raise MediaError(f"frame rate must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _parse_rate(text: str) -> float:
    """ffmpeg prints rates as '25', '29.97', '1k' (1000) or '30000/1001'."""
    text = text.strip()
    if text.endswith("k"):
        return float(text[:-1]) * 1000
    return float(Fraction(text))


def _describe(path: str) -> str:
    """ffmpeg's own description of a file (`ffmpeg -i path` prints it to stderr and exits)."""
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True, text=True,
                              timeout=60, errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{Path(path).name}: ffmpeg took too long to read it") from exc
    return proc.stderr


def probe(path: str | Path) -> VideoInfo:
    """Describe a video file, or raise MediaError saying in words why it is not one."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise MediaError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{name}: the file is empty")
    text = _describe(str(path))
    if "Invalid data found when processing input" in text or "Input #0" not in text:
        raise MediaError(f"{name}: not a readable video (ffmpeg cannot open it; the file may be damaged or "
                         "not a video)")
    demuxer = re.search(r"Input #0, ([^ ]+?), from", text)
    if demuxer and any(key in demuxer.group(1) for key in _STILL_DEMUXERS):
        raise MediaError(f"{name}: this is a still image, not a video; use the Restore tab for photos")
    video = re.search(r"Stream #0:\d+[^:]*: Video: (.*)", text)
    if video is None:
        raise MediaError(f"{name}: the file has no video stream")
    line = video.group(1)
    codec = line.split(",")[0].split(" ")[0]
    size = re.search(r"(?:^|[ ,])(\d{1,5})x(\d{1,5})(?=[ ,\[]|$)", line)
    if size is None or int(size.group(1)) == 0:
        raise MediaError(f"{name}: ffmpeg cannot tell the size of the video frames")
    width, height = int(size.group(1)), int(size.group(2))
    fps_match = re.search(r"([\d.]+k?) fps", line)
    tbr_match = re.search(r"([\d.]+k?) tbr", line)
    fps = _parse_rate(fps_match.group(1)) if fps_match else 0.0
    tbr = _parse_rate(tbr_match.group(1)) if tbr_match else fps
    duration = 0.0
    stamp = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if stamp:
        duration = int(stamp.group(1)) * 3600 + int(stamp.group(2)) * 60 + float(stamp.group(3))
    variable = codec == "gif" or (fps > 0 and abs(fps - tbr) > 0.01 * max(fps, tbr))
    if not fps > 0 and duration > 0:
        # No average rate in the header (e.g. a variable-rate MKV): count the packets (no decoding) and
        # divide by the duration; tbr is only ffmpeg's guess at the base rate and would duplicate frames.
        packets = _count_packets(str(path))
        if packets:
            fps, variable = packets / duration, abs(packets / duration - tbr) > 0.01 * tbr
    if not fps > 0:
        fps = tbr
    if not fps > 0:
        raise MediaError(f"{name}: ffmpeg cannot tell the frame rate of the video")
    if not duration > 0:
        # No duration in the container (a raw H.264 stream named .mp4, a browser recording): count the
        # packets, up to one past the frame limit, so the budget and the limits see the real length.
        packets = _count_packets(str(path), max_video_frames() + 1)
        if not packets:
            raise MediaError(f"{name}: ffmpeg cannot tell how long the video is (no duration, no frames found)")
        duration = packets / fps
    rotation = 0
    turned = re.search(r"rotation of (-?[\d.]+) degrees", text)
    if turned:
        rotation = int(round(float(turned.group(1)))) % 360
    if rotation in (90, 270):
        width, height = height, width
    audio = re.search(r"Stream #0:\d+[^:]*: Audio: ([^ ,]+)", text)
    return VideoInfo(
        path=str(path), width=width, height=height, fps=fps, duration=duration, codec=codec, rotation=rotation,
        audio_codec=audio.group(1) if audio else None,
        variable_fps=variable,
    )


def _count_packets(path: str, cap: int | None = None) -> int:
    """Video packets (= frames) in a file, by stream copy to nowhere: fast, nothing is decoded; at most
    ``cap`` are counted (ffmpeg stops there)."""
    limit = ["-frames:v", str(cap)] if cap else []
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", path, "-map", "0:v:0", "-c", "copy", *limit,
                               "-f", "null", "-"], capture_output=True, text=True, errors="replace", timeout=120)
    except subprocess.TimeoutExpired:
        raise MediaError(f"{Path(path).name}: ffmpeg took too long to count its frames") from None
    counts = re.findall(r"frame=\s*(\d+)", proc.stderr)
    return int(counts[-1]) if counts else 0


# ---------------------------------------------------------------------------------------------
# Reading frames
# ---------------------------------------------------------------------------------------------

def _time_args(start: float | None, end: float | None) -> tuple[list[str], list[str]]:
    """ffmpeg options for a segment: -ss before -i (a fast seek that is frame-accurate when decoding),
    -t after it."""
    if start is not None and start < 0:
        raise MediaError(f"start must be >= 0 seconds, got {start}")
    if end is not None and start is not None and end <= start:
        raise MediaError(f"end ({end} s) must be after start ({start} s)")
    before = ["-ss", f"{start:.6f}"] if start else []
    after = ["-t", f"{end - (start or 0.0):.6f}"] if end is not None else []
    return before, after


def read_frames(info: VideoInfo, start: float | None = None, end: float | None = None,
                max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode a clip one upright RGB frame at a time (a generator: close it to stop ffmpeg).

    `start`/`end` are seconds in the clip; `max_frames` stops early. Variable-rate clips come out at
    constant rate `info.fps`.
    """
    import imageio_ffmpeg

    before, after = _time_args(start, end)
    output = list(after)
    if info.variable_fps:
        output += ["-fps_mode", "cfr", "-r", str(info.rate)]
    reader = imageio_ffmpeg.read_frames(info.path, pix_fmt="rgb24", input_params=before, output_params=output)
    try:
        meta = next(reader)
        width, height = meta["size"]
        count = 0
        for buffer in reader:
            if max_frames is not None and count >= max_frames:
                break
            yield np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
            count += 1
    except (RuntimeError, OSError, StopIteration) as exc:
        raise MediaError(f"{Path(info.path).name}: ffmpeg could not decode the video ({_first_line(exc)})") from exc
    finally:
        reader.close()  # stops ffmpeg when we stop early


def _first_line(exc: BaseException) -> str:
    """The first line of an error from ffmpeg or imageio-ffmpeg, without ffmpeg's internal addresses."""
    for raw in str(exc).splitlines():
        line = _POINTER.sub("", _FFMPEG_PREFIX.sub("", raw)).strip()
        if line:
            return line if len(line) <= 200 else line[:197] + "..."
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Writing frames
# ---------------------------------------------------------------------------------------------

def check_frame(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """``frame`` if it is a uint8 HxWx3 RGB array, else a ValueError that says what it is."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"{what} must be a uint8 HxWx3 RGB array, got shape {shape} dtype {dtype}")
    return frame


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    frames = list(frames)
    if not frames:
        raise ValueError("no frames given")
    for i, frame in enumerate(frames):
        check_frame(frame, f"frame {i}")
    if any(f.shape != frames[0].shape for f in frames):
        sizes = sorted({f.shape[:2] for f in frames})
        raise ValueError(f"all frames must have the same size, got {sizes}; use timeline_frames() first")
    return frames


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size a yuv420p video of a width x height frame is written at (odd sides grow by one)."""
    return width + width % 2, height + height % 2


class VideoWriter:
    """Stream frames into an H.264 video (libx264, yuv420p, faststart) without holding them.

    Every frame must have the size of the first. An odd width or height is padded by repeating the
    last column/row, because yuv420p stores colour per 2x2 block. Use as a context manager; `close`
    waits for ffmpeg to finish the file, `abort` stops it and removes the partial file.
    """

    def __init__(self, path: str | Path, fps: float | Fraction, crf: int = X264_CRF, preset: str = X264_PRESET) -> None:
        self.path = Path(path)
        self.rate = fps if isinstance(fps, Fraction) else frame_rate(float(fps))
        self.crf, self.preset = crf, preset
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames given
        self._writer: Any = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _open(self, width: int, height: int) -> None:
        import imageio_ffmpeg

        self.size = (width, height)
        self._writer = imageio_ffmpeg.write_frames(
            str(self.path), even_size(width, height), fps=self.rate, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=1,  # we make the size even ourselves
            output_params=["-crf", str(self.crf), "-preset", self.preset, "-movflags", "+faststart"],
        )
        self._writer.send(None)  # start ffmpeg

    def write(self, frame: np.ndarray) -> None:
        check_frame(frame)
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(width, height)
        elif (width, height) != self.size:
            raise ValueError(f"frame {self.frames} is {width}x{height}, the video is {self.size[0]}x{self.size[1]}")
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        try:
            self._writer.send(np.ascontiguousarray(frame))
        except OSError as exc:
            self.abort()
            raise MediaError(f"ffmpeg stopped while writing {self.path.name} ({_first_line(exc)})") from exc
        self.frames += 1

    def close(self) -> Path:
        if self._writer is None:
            raise ValueError("no frames were written")
        self._writer.close()
        self._writer = None
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.throw(RuntimeError("aborted"))  # imageio-ffmpeg kills ffmpeg on an exception
            except (RuntimeError, StopIteration, OSError):
                pass
            self._writer = None
        self.path.unlink(missing_ok=True)


def write_mp4(frames: Sequence[np.ndarray], path: str | Path, fps: float, quality: float = 8.0) -> Path:
    """Write an H.264 MP4 (libx264, yuv420p, faststart) through the ffmpeg of imageio-ffmpeg.

    yuv420p needs even dimensions: an odd width or height is padded by repeating the last
    column/row. `quality` is imageio-ffmpeg's 1..10 scale (10 = best; 8 maps to crf 10).
    """
    frames = _check_frames(frames)
    fps = float(check_number("fps", fps, MIN_FPS, MAX_FPS))  # NaN / Infinity included
    crf = int((1 - quality / 10.0) * 51)  # imageio-ffmpeg's own mapping of its quality scale
    with atomic_output(path) as partial, VideoWriter(partial, fps, crf=crf, preset="medium") as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def gif_frame_duration_ms(fps: float) -> int:
    """The per-frame delay written to a GIF for `fps`.

    GIF stores delays in 10 ms steps, so the delay is rounded to the nearest 10 ms (fps=30 is
    written as 30 ms, i.e. 33.3 fps); it is at least 20 ms because browsers slow shorter delays
    down to 100 ms.
    """
    fps = float(check_number("fps", fps, MIN_FPS, MAX_FPS))  # NaN / Infinity included
    steps = round(1000.0 / fps / _GIF_DELAY_QUANTUM_MS)
    return max(_GIF_MIN_DELAY_MS, steps * _GIF_DELAY_QUANTUM_MS)


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float, loop: bool = True) -> Path:
    """Write an animated GIF; each frame gets its own 256-colour palette (fast octree, no dither).

    Quantising first is what keeps this fast: handing RGB frames to a GIF encoder makes it run a
    slow median-cut per frame. `loop=False` writes no NETSCAPE loop block, so players show the
    animation once. Pillow merges consecutive identical frames into one longer frame.
    """
    frames = _check_frames(frames)
    duration = gif_frame_duration_ms(fps)
    palettised = [
        Image.fromarray(f).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        for f in frames
    ]
    options: dict[str, Any] = {"save_all": True, "append_images": palettised[1:], "duration": duration}
    if loop:
        options["loop"] = 0  # 0 = forever
    path = Path(path)
    with atomic_output(path) as partial:
        palettised[0].save(partial, format="GIF", **options)
    return path


# ---------------------------------------------------------------------------------------------
# Sound
# ---------------------------------------------------------------------------------------------

class AudioMuxError(MediaError):
    """The sound of a clip cannot be put into the output (``reason`` says why, in ffmpeg's words without
    its internal addresses). The picture-only video given to `mux_audio` is left in place."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# ffmpeg prefixes its log lines with the component and its address, "[aac @ 0x5613e2c0]": internal
# pointers mean nothing to a user (and tell a visitor about the server's memory layout).
_FFMPEG_PREFIX = re.compile(r"\[[^\[\]]*\]\s*")
_POINTER = re.compile(r"\s*@?\s*0x[0-9a-fA-F]{4,}")
# The line that says what went wrong, rather than the consequences printed after it.
_CAUSE = re.compile(r"unsupported|not supported|invalid|incorrect|could not|cannot|unknown|error", re.IGNORECASE)


def ffmpeg_reason(stderr: str, limit: int = 200) -> str:
    """The most telling line of ffmpeg's error output, without component prefixes or pointers."""
    lines = []
    for raw in stderr.splitlines():
        line = _POINTER.sub("", _FFMPEG_PREFIX.sub("", raw)).strip()
        if line and line not in lines:
            lines.append(line)
    if not lines:
        return "no message from ffmpeg"
    line = next((text for text in lines if _CAUSE.search(text)), lines[-1])
    return line if len(line) <= limit else line[: limit - 3] + "..."


def mux_audio(video: str | Path, source: VideoInfo, out: str | Path, start: float | None = None,
              duration: float | None = None) -> str:
    """Write `out`: the picture of `video` with the sound of `source` (from `start`, `duration` long).

    The picture is copied; the sound is copied when `out`'s container can hold its codec, else
    re-encoded to AAC. Returns what happened to the sound: 'copied', 'aac' (re-encoded) or 'none'
    (the source has none: `video` is moved to `out` unchanged). When the sound cannot be added at all
    (e.g. 16 channels at 384 kHz, which AAC cannot take), AudioMuxError is raised and `video` is left
    where it is, so the caller can keep the picture.
    """
    video, out = Path(video), Path(out)
    if not source.has_audio:
        publish(video, out)
        return "none"
    suffix = out.suffix.lower()
    copy = source.audio_codec in COPYABLE_AUDIO.get(suffix, set())
    seek = ["-ss", f"{start:.6f}"] if start else []
    length = ["-t", f"{duration:.6f}"] if duration is not None else []
    # Output into a temporary name beside `out`, so a failed mux never leaves half a file there.
    partial = partial_path(out)

    def run(audio_codec: list[str]) -> subprocess.CompletedProcess:
        command = [ffmpeg_exe(), "-y", "-v", "error", "-i", str(video), *seek, *length, "-i", source.path,
                   "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *audio_codec, "-shortest"]
        if suffix in (".mp4", ".mov"):
            command += ["-movflags", "+faststart"]
        return subprocess.run([*command, str(partial)], capture_output=True, text=True, errors="replace")

    try:
        proc = run(["-c:a", "copy"] if copy else ["-c:a", "aac", "-b:a", AAC_BITRATE])
        if proc.returncode != 0 and copy:
            # A stream that claims a copyable codec but does not fit the container: re-encode after all.
            copy = False
            proc = run(["-c:a", "aac", "-b:a", AAC_BITRATE])
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = ffmpeg_reason(proc.stderr)
        raise AudioMuxError(f"could not add the sound of {Path(source.path).name} to the video ({reason})", reason)
    publish(partial, out)
    video.unlink(missing_ok=True)
    return "copied" if copy else "aac"


def has_audio_stream(path: str | Path) -> str | None:
    """The codec of the first audio stream of a file, or None."""
    match = re.search(r"Stream #0:\d+[^:]*: Audio: ([^ ,]+)", _describe(str(path)))
    return match.group(1) if match else None


def count_frames(path: str | Path) -> tuple[int, float]:
    """Decode the whole file: (frames, seconds) exactly as a player sees them."""
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))
