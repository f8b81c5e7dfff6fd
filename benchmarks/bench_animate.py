"""Benchmark the animation writers: 60 frames of 256x256 written as a palette-quantised GIF
(restorers.media.video_io.write_gif), as a plain imageio GIF (RGB frames handed to the encoder), and as
an H.264 MP4 (write_mp4). All three run in one process, so the ratios are what to read.

    python -m benchmarks.bench_animate [--frames 60] [--size 256] [--repeats 3]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import imageio.v3 as iio
import numpy as np

from restorers.media.video_io import gif_frame_duration_ms, write_gif, write_mp4

FPS = 25.0


def _frames(count: int, size: int) -> list[np.ndarray]:
    """Smooth, moving colour fields: closer to a latent walk than noise, which no palette fits."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        r = 0.5 + 0.5 * np.sin(6 * xx + phase)
        g = 0.5 + 0.5 * np.sin(5 * yy - phase + 3 * xx * yy)
        b = 0.5 + 0.5 * np.cos(4 * (xx + yy) + 2 * phase)
        frames.append((np.stack([r, g, b], axis=-1) * 255).astype(np.uint8))
    return frames


def _plain_imageio_gif(frames: list[np.ndarray], path: Path) -> None:
    iio.imwrite(path, frames, extension=".gif", duration=gif_frame_duration_ms(FPS), loop=0)


def _best_time(write: Callable[[Path], object], path: Path, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        write(path)
        best = min(best, time.perf_counter() - start)
        if best > 5.0:  # the plain imageio write takes tens of seconds; once is enough
            break
    return best


def run(frames: int = 60, size: int = 256, repeats: int = 3) -> list[dict]:
    """One row per writer: seconds (best of `repeats`), file size, and the ratio to write_gif."""
    data = _frames(frames, size)
    cases: list[tuple[str, str, Callable[[Path], object]]] = [
        ("write_gif (FASTOCTREE palette)", "ours.gif", lambda p: write_gif(data, p, FPS)),
        ("imageio GIF (plain RGB frames)", "plain.gif", lambda p: _plain_imageio_gif(data, p)),
        ("write_mp4 (libx264, yuv420p)", "ours.mp4", lambda p: write_mp4(data, p, FPS)),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, filename, write in cases:
            path = Path(tmp) / filename
            seconds = _best_time(write, path, repeats)
            kib = path.stat().st_size / 1024
            rows.append({"writer": name, "frames": frames, "size": size, "seconds": seconds, "kib": kib})
    reference = rows[0]["seconds"]
    for row in rows:
        row["x_vs_write_gif"] = row["seconds"] / reference
    return rows


def _markdown(rows: list[dict]) -> str:
    lines = ["| writer | frames | size | seconds | x write_gif | KiB |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['writer']} | {r['frames']} | {r['size']}x{r['size']} | {r['seconds']:.3f} "
            f"| {r['x_vs_write_gif']:.1f} | {r['kib']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(_markdown(run(args.frames, args.size, args.repeats)))
