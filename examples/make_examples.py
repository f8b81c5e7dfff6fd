"""Rebuild the example images in this folder from public-domain photographs that Python packages ship.

Sources (see CREDITS.md): scikit-image's `astronaut.png` (Eileen Collins, NASA) and matplotlib's
`grace_hopper.jpg` (U.S. Navy). If those packages are not installed, their wheels are fetched with
`pip download --no-deps` into a temporary folder and only the two files are read from them.

    python examples/make_examples.py
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

from restorers import degrade, face, images  # noqa: E402

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


if __name__ == "__main__":
    main()
