"""One DCGAN epoch (2,000 images of 32 px, the study's settings) against its compute floor, fused Adam vs
the plain per-parameter Adam loop, interleaved in one process.

The floor is the epoch's FLOPs (torch.utils.flop_counter over one training iteration, times the
iterations) divided by this machine's fp32 3x3-conv rate measured in the same run.

    python -m benchmarks.bench_dcgan_speed [--rounds 2] [--images 2000] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.bench_fastpath import machine_rates
from restorers.dcgan import training
from restorers.dcgan.config import TrainConfig
from restorers.models.archs.dcgan import DCGANDiscriminator, DCGANGenerator


def epoch_seconds(images: np.ndarray, fused: bool) -> tuple[float, list[float]]:
    os.environ[training.FUSED_ADAM_ENV] = "1" if fused else "0"
    start = time.perf_counter()
    losses: list[float] = []
    for event in training.train(images, TrainConfig(epochs=1)):
        if isinstance(event, training.Iteration):
            losses.append(round(event.loss_d, 4))
    return time.perf_counter() - start, losses


def iteration_flops(batch: int, config: TrainConfig = TrainConfig()) -> int:
    """FLOPs of one training iteration as the loop runs it (3 D passes, 1 G pass, both backwards)."""
    from torch.utils.flop_counter import FlopCounterMode

    G = DCGANGenerator(config.nz, config.ngf, 3, 32)
    D = DCGANDiscriminator(config.ndf, 3, 32)
    real = torch.rand(batch, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        fake = G(torch.randn(batch, config.nz, 1, 1))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        loss_d.backward()
        F.softplus(-D(fake)).mean().backward()
    return int(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--json", default=None)
    options = parser.parse_args()
    images = np.random.default_rng(0).integers(0, 256, (options.images, 32, 32, 3), dtype=np.uint8)
    batch = TrainConfig().batch_size
    iterations = -(-options.images // batch)
    flops = iteration_flops(batch) * iterations
    report: dict[str, Any] = {"load_before": os.getloadavg(), "rates_before": machine_rates(),
                              "epoch_flops": flops, "fused": [], "plain": []}
    print(json.dumps(report), flush=True)
    losses: dict[str, list[float]] = {}
    for round_index in range(options.rounds):
        for name in ("fused", "plain") if round_index % 2 == 0 else ("plain", "fused"):
            seconds, losses[name] = epoch_seconds(images, name == "fused")
            report[name].append(round(seconds, 2))
            print(json.dumps({name: round(seconds, 2), "loss_d": losses[name]}), flush=True)
    os.environ.pop(training.FUSED_ADAM_ENV, None)
    report["rates_after"], report["load_after"] = machine_rates(), os.getloadavg()
    best_rate = max(report["rates_before"]["conv_fp32"], report["rates_after"]["conv_fp32"]) * 1e12
    report["floor_s"] = round(flops / best_rate, 2)
    for name in ("fused", "plain"):
        report[f"{name}_min_s"] = min(report[name])
        report[f"{name}_x_floor"] = round(min(report[name]) / report["floor_s"], 2)
    report["speedup"] = round(report["plain_min_s"] / report["fused_min_s"], 2)
    print(json.dumps(report), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
