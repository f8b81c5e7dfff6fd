"""The first Restore click of a fresh app process, with and without the start-up warm-up (webui/warmup.py).

Each run is a new process: it launches the app on a local port and makes two identical /restore calls
with gradio_client (upload to PNG download): GPEN-BFR-512 in whole-photo mode with the
realesr-general-x4v3 background on examples/two_portraits.jpg (the issue's case). With the warm-up, the
first call is made after the warm-up has finished (a user who opens the page a little after start-up);
the time the warm-up took is reported with it.

The real GPEN-512 and general-x4v3 files are not available offline, so both are registered with random
weights of their real architectures in a temporary Hugging Face cache (speed does not depend on weight
values); the face detector is the real one from ../shared.

    python -m benchmarks.bench_first_click [--runs 1]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
PHOTO = REPO_ROOT / "examples" / "two_portraits.jpg"
MODELS = ("gpen-bfr-512", "realesr-general-x4v3")
REVISION = "0" * 40


def _add(cache: Path, repo_id: str, filename: str, data: bytes) -> dict:
    """One file in a genuine hub-cache layout; returns its WeightsFile fields."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    sha = hashlib.sha256(data).hexdigest()
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "blobs" / sha).write_bytes(data)
    target = folder / "snapshots" / REVISION / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(folder / "blobs" / sha)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)
    return {"repo_id": repo_id, "filename": filename, "sha256": sha, "size": len(data)}


def build_cache(cache: Path) -> dict[str, dict]:
    """Random-weight files for MODELS in ``cache`` (plus a link to the real detector)."""
    import torch

    from restorers.models.networks import build_network
    from restorers.models.registry import get_spec

    detector = SHARED / "weights" / "hf-cache" / "models--fofr--comfyui"
    (cache / detector.name).symlink_to(detector, target_is_directory=True)
    files = {}
    for name in MODELS:
        spec = get_spec(name)
        torch.manual_seed(0)
        state = build_network(spec).state_dict()
        buffer = io.BytesIO()
        torch.save({spec.state_keys[0]: state} if spec.state_keys else state, buffer)
        files[name] = _add(cache, f"bench/{name}", spec.weights.filename, buffer.getvalue())
    return files


def child(files: dict[str, dict]) -> dict:
    """In a fresh process: register the random-weight files, start the app, time two clicks."""
    import dataclasses

    from restorers.models import hub, registry

    registry.MODELS = tuple(dataclasses.replace(s, weights=hub.WeightsFile(**files[s.name])) if s.name in files
                            else s for s in registry.MODELS)
    began = time.perf_counter()
    import app as app_module
    from gradio_client import Client, handle_file
    from webui import warmup

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app_module.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    started = time.perf_counter() - began
    warmup.wait()
    client = Client(app_module.demo.local_url, verbose=False)
    args = [handle_file(str(PHOTO)), ["gpen-bfr-512"], 2.0, "whole", "realesr-general-x4v3", False, 0, 0.97, 1.0]
    clicks = []
    for _ in range(2):
        t = time.perf_counter()
        client.predict(*args, api_name="/restore")
        clicks.append(round(time.perf_counter() - t, 2))
    app_module.demo.close()
    return {"warmup": warmup.enabled(), "warmed": warmup.state.warmed, "warmup_s": round(warmup.state.seconds, 2),
            "start_s": round(started, 2), "first_click_s": clicks[0], "second_click_s": clicks[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(Path(args.child).read_text()))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "hf-cache"
        cache.mkdir()
        files = Path(tmp) / "files.json"
        files.write_text(json.dumps(build_cache(cache)))
        env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        rows = []
        for _ in range(args.runs):
            for flag in ("0", "1"):
                out = subprocess.run([sys.executable, "-m", "benchmarks.bench_first_click", "--child", str(files)],
                                     cwd=REPO_ROOT, env={**env, "RESTORERS_WARMUP": flag}, capture_output=True,
                                     text=True, timeout=1800)
                lines = out.stdout.strip().splitlines()
                rows.append(json.loads(lines[-1]) if out.returncode == 0 and lines else {"error": out.stderr[-2000:]})
                print(json.dumps(rows[-1]), flush=True)
        print(json.dumps({"load_average": os.getloadavg()[0], "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
