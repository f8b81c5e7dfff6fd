"""Two face models' backgrounds in one whole-photo run: each upscaling it (before) vs one SharedBackground.

general-x4v3 at its real configuration with random weights (speed does not depend on them), put in the
network cache so no weights are needed; a 256x170 photo to x2; interleaved rounds, minimum reported.

    python -m benchmarks.bench_shared_background [--rounds 2] [--size 256x170]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from restorers.models import networks
from restorers.models.registry import get_spec
from restorers.pipelines.restorer import SharedBackground, background_upsampler

MODEL = "realesr-general-x4v3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", default="256x170")
    options = parser.parse_args()
    width, height = (int(v) for v in options.size.split("x"))
    spec, device = get_spec(MODEL), torch.device("cpu")
    torch.manual_seed(0)
    networks._cache[(spec.name, str(device))] = networks.prepare(networks.build_network(spec), device)
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    times: dict[str, list[float]] = {"separate": [], "shared": []}
    for round_index in range(options.rounds):
        for name in ("separate", "shared") if round_index % 2 == 0 else ("shared", "separate"):
            start = time.perf_counter()
            if name == "separate":  # each face model builds and runs its own background upsampler
                for _ in range(2):
                    background_upsampler(MODEL, device, "fp32")(rgb.copy(), 2.0)
            else:
                shared = SharedBackground(MODEL, device, "fp32")
                for _ in range(2):
                    shared(rgb.copy(), 2.0)
            times[name].append(round(time.perf_counter() - start, 2))
    print(json.dumps({"load": os.getloadavg(), **times, "speedup": min(times["separate"]) / min(times["shared"])}))


if __name__ == "__main__":
    main()
