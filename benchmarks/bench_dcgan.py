"""Benchmark DCGAN training through the engine's own loop (restorers.dcgan.training.train): images per second
at 32 and 64 px, plain fp32 eager vs channels_last and vs bf16 autocast + channels_last, and the wall time of
one whole epoch of 2,000 32x32 images at the study's settings (batch 256).

    python -m benchmarks.bench_dcgan [--repeats 3] [--quick] [--json]

Variants are interleaved and warmed up (the first iteration of every run is not timed) and the median
of the repeats is reported, so the ratio stays meaningful on a shared, loaded machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from restorers.dcgan.config import PRECISIONS
from restorers.dcgan.training import Done, Iteration, TrainConfig, train

# (image size, batch size, timed iterations): the study's batch at 32 px, the PyTorch tutorial's at 64 px.
CASES = ((32, 128, 3), (64, 64, 2))
EPOCH_IMAGES = 2000


def _images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def _throughput(size: int, batch: int, iterations: int, precision: str) -> float:
    """Images per second over `iterations` training iterations, after one untimed warm-up iteration."""
    data = _images(batch * (iterations + 1), size)
    config = TrainConfig(image_size=size, epochs=1, batch_size=batch, precision=precision, samples=4)
    marks = [(e.iteration, e.elapsed) for e in train(data, config) if isinstance(e, Iteration)]
    (_, t0), (_, t1) = marks[0], marks[-1]
    return batch * (len(marks) - 1) / (t1 - t0)


def _epoch_seconds(precision: str, images: int = EPOCH_IMAGES) -> float:
    """Wall time of one epoch of `images` 32x32 images at the study's defaults (batch 256), samples included."""
    data = _images(images, 32)
    start = time.perf_counter()
    for event in train(data, TrainConfig(epochs=1, precision=precision)):
        if isinstance(event, Done):
            break
    return time.perf_counter() - start


def run(repeats: int = 3, quick: bool = False) -> list[dict]:
    rows = []
    cases = ((32, 16, 1),) if quick else CASES
    for size, batch, iterations in cases:
        samples: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        for _ in range(repeats):
            for precision in samples:  # interleaved
                samples[precision].append(_throughput(size, batch, iterations, precision))
        rate = {p: statistics.median(v) for p, v in samples.items()}
        rows.append({"case": f"train {size}x{size}", "size": size, "batch": batch, "iterations": iterations,
                     "fp32_img_s": round(rate["fp32"], 1), "channels_last_img_s": round(rate["channels_last"], 1),
                     "bf16_img_s": round(rate["bf16"], 1), "channels_last_x": rate["channels_last"] / rate["fp32"],
                     "bf16_x": rate["bf16"] / rate["fp32"], "threads": torch.get_num_threads()})
    if not quick:
        epoch = {p: _epoch_seconds(p) for p in ("fp32", "channels_last")}
        rows.append({"case": f"one epoch, {EPOCH_IMAGES} images 32x32, batch 256", "size": 32, "batch": 256,
                     "fp32_epoch_s": round(epoch["fp32"], 2), "channels_last_epoch_s": round(epoch["channels_last"], 2),
                     "channels_last_x": epoch["fp32"] / epoch["channels_last"], "threads": torch.get_num_threads()})
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| case | batch | fp32 eager | fp32 + channels_last | bf16 autocast + channels_last |",
             "|---|---|---|---|---|"]
    for r in rows:
        if "fp32_img_s" in r:
            lines.append(f"| {r['case']} | {r['batch']} | {r['fp32_img_s']} img/s | {r['channels_last_img_s']} img/s "
                         f"(**{r['channels_last_x']:.2f}x**) | {r['bf16_img_s']} img/s (**{r['bf16_x']:.2f}x**) |")
        else:
            lines.append(f"| {r['case']} | {r['batch']} | {r['fp32_epoch_s']} s | {r['channels_last_epoch_s']} s "
                         f"(**{r['channels_last_x']:.2f}x**) | — |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    options = parser.parse_args()
    rows = run(options.repeats, options.quick)
    print(json.dumps(rows) if options.json else to_markdown(rows))


if __name__ == "__main__":
    main()
