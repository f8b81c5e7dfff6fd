"""Benchmark restorers.analysis.metrics against sewar (the seed project's metric library).

For each metric and size (256x256 and 1024x1024) both implementations score the same pairs of
real face photos (ground truth vs a blurred, noisy, JPEG'd copy, and two different faces), in the
same process and alternating, so the speed-up ratio is what to read. The value column is the
largest |ours - sewar| over the pairs. "uqi" is the published index, which sewar does not compute
(its figure is "uqi_sewar"): its time is compared with sewar.uqi and no difference is given.

    python -m benchmarks.bench_metrics [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from sewar import full_ref

from restorers.analysis import degrade, metrics

SIZES = (256, 1024)
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))

Metric = Callable[[np.ndarray, np.ndarray], float]
# (name, ours, sewar's, whether the two compute the same number)
CASES: list[tuple[str, Metric, Metric, bool]] = [
    ("psnr", metrics.psnr, full_ref.psnr, True),
    ("ssim", metrics.ssim, lambda a, b: full_ref.ssim(a, b)[0], True),
    ("ms_ssim", metrics.ms_ssim, full_ref.msssim, True),
    ("uqi_sewar", metrics.uqi_sewar, full_ref.uqi, True),
    ("uqi", metrics.uqi, full_ref.uqi, False),
    ("vifp", metrics.vifp, full_ref.vifp, True),
]


def _face(index: int, size: int) -> np.ndarray:
    """An FFHQ test face at size x size, or a textured synthetic image without ../shared."""
    path = SHARED / "faces" / "ffhq-gt" / f"{index:05d}.png"
    if path.exists():
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 127 + 60 * np.sin(9 * xx + 5 * yy + index)[..., None]
    base = base + rng.normal(0, 25, (size, size, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def _pairs(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    gt = _face(0, size)
    degraded = degrade.apply_degradation(gt, "gaussian:1.5+noise:8+jpeg:60", seed=0)
    return [(gt, degraded), (gt, _face(1, size))]


def _seconds(fn: Metric, a: np.ndarray, b: np.ndarray) -> float:
    start = time.perf_counter()
    fn(a, b)
    return time.perf_counter() - start


def run(repeats: int = 3) -> list[dict]:
    """One row per (metric, size): best-of-`repeats` seconds for ours and sewar, the speed-up,
    and the largest |ours - sewar| over the pairs (None where the definitions differ)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sewar's dtype/scale warnings
        for size in SIZES:
            pairs = _pairs(size)
            for name, ours, theirs, comparable in CASES:
                ours_s = sewar_s = float("inf")
                for _ in range(repeats):  # alternate, so load changes hit both alike
                    ours_s = min(ours_s, _seconds(ours, *pairs[0]))
                    sewar_s = min(sewar_s, _seconds(theirs, *pairs[0]))
                    if sewar_s > 5.0:  # sewar's vifp at 1024 takes ~20 s: once is enough
                        break
                diff = None
                if comparable:
                    diff = max(abs(ours(a, b) - float(theirs(a, b))) for a, b in pairs)
                rows.append(
                    dict(metric=name, size=size, ours_s=ours_s, sewar_s=sewar_s,
                         speedup=sewar_s / ours_s, max_abs_diff=diff)
                )
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = [
        "| metric | size | ours (s) | sewar (s) | speed-up | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = "n/a (other definition)" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        lines.append(
            f"| {r['metric']} | {r['size']}x{r['size']} | {r['ours_s']:.3f} | {r['sewar_s']:.3f} "
            f"| {r['speedup']:.1f}x | {diff} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(to_markdown(run(repeats=args.repeats)))


if __name__ == "__main__":
    main()
