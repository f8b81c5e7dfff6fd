"""Rebuild the example images in this folder from public-domain photographs that Python packages ship.

Sources (see CREDITS.md): scikit-image's `astronaut.png` (Eileen Collins, NASA) and matplotlib's
`grace_hopper.jpg` (U.S. Navy). If those packages are not installed, their wheels are fetched with
`pip download --no-deps` into a temporary folder and only the two files are read from them.

    python examples/make_examples.py          # everything
    python examples/make_examples.py clip     # only the video clip, from the photos already here
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from restorers.analysis import degrade  # noqa: E402
from restorers.pipelines import face
from restorers.media import images, video_io as media

SOURCES = {
    "astronaut": ("scikit-image", "skimage/data/astronaut.png"),
    "grace_hopper": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
}


def read_source(package: str, member: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, package], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return images.load_image(archive.read(member)).rgb


def aligned(rgb: np.ndarray, size: int) -> np.ndarray:
    faces = face.detect(rgb)
    if not faces:
        raise SystemExit("no face found in a source photo")
    return face.align_face(rgb, faces[0].landmarks, size).crop


def save(name: str, rgb: np.ndarray, **kwargs) -> None:
    path = ROOT / name
    Image.fromarray(rgb).save(path, **kwargs)
    print(f"{path.name}: {rgb.shape[1]}x{rgb.shape[0]}, {path.stat().st_size // 1024} KiB")


def main() -> None:
    astronaut = read_source(*SOURCES["astronaut"])
    hopper = read_source(*SOURCES["grace_hopper"])
    save("astronaut.jpg", astronaut, quality=92)
    save("grace_hopper.jpg", hopper, quality=92)
    # Two portraits side by side: a whole photo with two faces.
    height = 384
    left = images.resize(astronaut, (height, height), "lanczos")
    right = images.resize(hopper, (round(hopper.shape[1] * height / hopper.shape[0]), height), "lanczos")
    save("two_portraits.jpg", np.concatenate([left, right], axis=1), quality=90)
    # Clean aligned faces (ground truths for Degrade & Measure) and degraded crops (for Restore).
    astronaut_face = aligned(astronaut, 256)
    hopper_face = aligned(hopper, 256)
    save("astronaut_face.png", astronaut_face)
    save("grace_hopper_face.png", hopper_face)
    save("astronaut_face_low.png", images.resize(astronaut_face, (96, 96), "bicubic"))
    save("grace_hopper_face_blurred.png", degrade.stack_blur(hopper_face, 4))
    gray = np.asarray(Image.fromarray(images.resize(hopper, (256, 300), "lanczos")).convert("L"))
    Image.fromarray(gray).save(ROOT / "grace_hopper_gray.png")
    print("grace_hopper_gray.png: 256x300 grayscale")
    make_clip()


# The example clip: a slow pan and zoom across two_portraits.jpg with a soft tone as its sound track.
CLIP_SIZE = (256, 192)
CLIP_FPS = 12
CLIP_SECONDS = 3.0


def clip_frames(photo: np.ndarray) -> list[np.ndarray]:
    """Frames of a virtual camera that starts on the whole photo and glides in towards the right face."""
    pil = Image.fromarray(photo)
    height, width = photo.shape[:2]
    count = round(CLIP_FPS * CLIP_SECONDS)
    frames = []
    for i in range(count):
        t = i / (count - 1)
        ease = 0.5 - 0.5 * np.cos(np.pi * t)  # slow in, slow out
        view_h = height * (1.0 - 0.35 * ease)
        view_w = view_h * CLIP_SIZE[0] / CLIP_SIZE[1]
        cx = width * (0.30 + 0.42 * ease)
        cy = height * (0.50 - 0.06 * ease)
        left = float(np.clip(cx - view_w / 2, 0, width - view_w))
        top = float(np.clip(cy - view_h / 2, 0, height - view_h))
        box = (left, top, left + view_w, top + view_h)
        frames.append(np.asarray(pil.transform(CLIP_SIZE, Image.Transform.EXTENT, box, Image.Resampling.BICUBIC)))
    return frames


def make_clip() -> None:
    """examples/portraits_pan.mp4: about 3 s, 256x192, 12 fps, H.264 + AAC, well under 500 KB."""
    photo = images.load_image(ROOT / "two_portraits.jpg").rgb
    with tempfile.TemporaryDirectory() as tmp:
        silent = Path(tmp) / "silent.mp4"
        with media.VideoWriter(silent, CLIP_FPS, crf=26, preset="slow") as writer:
            for frame in clip_frames(photo):
                writer.write(frame)
        out = ROOT / "portraits_pan.mp4"
        # A 330 Hz tone with a gentle tremolo and fades: something to hear, nothing to annoy.
        tone = (f"aevalsrc=0.15*sin(2*PI*330*t)*(0.75+0.25*sin(2*PI*3*t)):s=22050:d={CLIP_SECONDS},"
                f"afade=t=in:d=0.3,afade=t=out:st={CLIP_SECONDS - 0.5}:d=0.5")
        subprocess.run([media.ffmpeg_exe(), "-y", "-v", "error", "-i", str(silent), "-f", "lavfi", "-i", tone,
                        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "48k", "-shortest",
                        "-movflags", "+faststart", str(out)], check=True)
    print(f"{out.name}: {CLIP_SIZE[0]}x{CLIP_SIZE[1]}, {CLIP_FPS} fps, {CLIP_SECONDS:g} s, "
          f"{out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    make_clip() if sys.argv[1:] == ["clip"] else main()
