"""How close restorers.analysis.budget's estimates are to the real time of the same engine calls on this machine.

Each case runs once to warm up, then the median of ``--repeats`` runs is compared with the estimate; the
ratio estimate / measured is what to read (1 = exact; below 1: the request took longer than estimated, as
it does on a loaded machine, which is why the app's time limit is twice its budget). Baselines and metrics
only, so no weights are needed; the network constants come from bench_models' table.

    python -m benchmarks.bench_budget [--repeats 3] [--size 1024]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np

from restorers.analysis import budget
from restorers.analysis.evaluate import DEFAULT_METRICS, evaluate
from restorers.analysis.loop import run_loop


def _face_like(size: int, seed: int) -> np.ndarray:
    """Smooth colour fields with some texture: metric costs do not depend on content, but JPEG and blur do a little."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rng = np.random.default_rng(seed)
    base = np.stack([np.sin(6 * xx + seed), np.cos(5 * yy), np.sin(4 * (xx + yy))], -1) * 0.4 + 0.5
    return np.clip((base + rng.normal(0, 0.03, base.shape)) * 255, 0, 255).astype(np.uint8)


def cases(size: int) -> list[tuple[str, budget.Estimate, Callable[[], object]]]:
    gts = [(f"img{i}", _face_like(size, i)) for i in range(2)]
    sizes = [(size, size)] * len(gts)
    return [
        (f"evaluate 2 x {size}px, stackblur:8, bicubic + lanczos, 5 metrics",
         budget.evaluate_cost(sizes, "stackblur:8", ["bicubic", "lanczos"], list(DEFAULT_METRICS)),
         lambda: evaluate(gts, "stackblur:8", ["bicubic", "lanczos"])),
        (f"evaluate 2 x {size}px, realesrgan:4 chain, lanczos, vifp + ssim",
         budget.evaluate_cost(sizes, "realesrgan:4", ["lanczos"], ["vifp", "ssim"]),
         lambda: evaluate(gts, "realesrgan:4", ["lanczos"], metrics=["vifp", "ssim"])),
        (f"repeated run {size}px, lanczos, 10 runs at x1.1",
         budget.loop_cost((size, size), "lanczos", 10, 1.1),
         lambda: run_loop("lanczos", gts[0][1], 10, 1.1)),
    ]


def run(size: int = 1024, repeats: int = 3) -> list[dict]:
    rows = []
    for name, estimate, call in cases(size):
        call()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        measured = statistics.median(times)
        rows.append({"case": name, "estimate_s": round(estimate.seconds, 2), "measured_s": round(measured, 2),
                     "ratio": round(estimate.seconds / measured, 2)})
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| case | estimate | measured (median) | estimate / measured |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['estimate_s']} s | {r['measured_s']} s | {r['ratio']} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    options = parser.parse_args()
    print(to_markdown(run(options.size, options.repeats)))


if __name__ == "__main__":
    main()
