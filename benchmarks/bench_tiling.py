"""Tiled vs untiled time and peak memory of the SR networks, one (network, image, tile) per process.

Each case runs in its own child process, so its peak resident set (VmHWM) is its own; the figure
reported is the peak minus the resident set after the network was built and one 64 px warm-up call
ran (i.e. the memory the image itself costs). Cases are interleaved over --repeats rounds and the
minimum time is kept (the machine is shared).

    python -m benchmarks.bench_tiling [--nets srvgg,x2plus] [--sizes 1024x679] [--tiles 0,128,256,512]
                                      [--repeats 2] [--precision fp32] [--json PATH]
    python -m benchmarks.bench_tiling --child NET WxH TILE PRECISION     (one case, prints JSON)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = {"srvgg": "realesr-general-x4v3", "x2plus": "realesrgan-x2plus", "x4plus": "realesrgan-x4plus"}


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(net_name: str, size: str, tile: int, precision: str) -> dict[str, Any]:
    import torch

    from restorers.models import networks, runtime
    from restorers.models.registry import get_spec
    from restorers.pipelines.restorer import TILE_OVERLAP
    from restorers.pipelines.tiling import network_context, tiled_apply

    runtime.keep_freed_memory()
    spec = get_spec(MODELS[net_name])
    torch.manual_seed(0)
    net = networks.prepare(networks.build_network(spec), torch.device("cpu"))
    width, height = (int(v) for v in size.split("x"))
    multiple = int(getattr(net, "input_multiple", 1))
    x = torch.rand(1, 3, height, width).contiguous(memory_format=torch.channels_last)
    device = torch.device("cpu")

    def run(inputs: torch.Tensor, tile_size: int) -> torch.Tensor:
        with runtime.inference(device, precision):
            return tiled_apply(net, inputs, spec.scale, tile_size, TILE_OVERLAP, multiple, network_context(net))

    run(x[:, :, :64, :64], 0)
    base = _rss_mib("VmRSS")
    start = time.perf_counter()
    out = run(x, tile)
    seconds = time.perf_counter() - start
    return {"net": net_name, "size": size, "tile": tile, "precision": precision, "seconds": round(seconds, 3),
            "peak_mib": round(_rss_mib("VmHWM") - base), "output": list(out.shape)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("NET", "WxH", "TILE", "PRECISION"))
    parser.add_argument("--nets", default="srvgg,x2plus")
    parser.add_argument("--sizes", default="1024x679")
    parser.add_argument("--tiles", default="0,128,256,512")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--json", default=None)
    options = parser.parse_args()
    if options.child:
        net, size, tile, precision = options.child
        print(json.dumps(child(net, size, int(tile), precision)), flush=True)
        return
    cases = [(n, s, int(t)) for n in options.nets.split(",") for s in options.sizes.split(",")
             for t in options.tiles.split(",")]
    rows: dict[tuple, dict[str, Any]] = {}
    print(json.dumps({"load_before": os.getloadavg()}), flush=True)
    for round_index in range(options.repeats):
        for case in cases if round_index % 2 == 0 else cases[::-1]:
            command = [sys.executable, "-m", "benchmarks.bench_tiling", "--child", case[0], case[1], str(case[2]),
                       options.precision]
            proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                rows.setdefault(case, {"net": case[0], "size": case[1], "tile": case[2]})["error"] = \
                    (proc.stderr.strip().splitlines() or ["?"])[-1]
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            print(json.dumps(result), flush=True)
            row = rows.setdefault(case, {**result, "times": [], "peaks": []})
            row["times"].append(result["seconds"])
            row["peaks"].append(result["peak_mib"])
    for row in rows.values():
        if row.get("times"):
            row["min_s"], row["peak_mib"] = min(row["times"]), max(row["peaks"])
    untiled = {(r["net"], r["size"]): r.get("min_s") for r in rows.values() if r["tile"] == 0}
    for row in rows.values():
        base = untiled.get((row["net"], row["size"]))
        if base and row.get("min_s"):
            row["vs_untiled"] = round(row["min_s"] / base, 2)
    summary = {"load_after": os.getloadavg(), "rows": list(rows.values())}
    print(json.dumps(summary), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
