"""End-to-end waits against the compute floor: what a user waits for, how much arithmetic it needs, where the
rest of the time goes.

    python -m benchmarks --only e2e [--quick]            # through the runner (table + benchmarks/results/...)
    python -m benchmarks.bench_e2e [--quick] [--json PATH] [--rows SUBSTRING,...] [--repeats N] [--budget S]

Rows (--quick runs each on tiny sizes with GPEN-256 and realesr-general-x4v3 only; the rows that issue 20's
targets name run first: GPEN-512's, the clicks, DCGAN, tiling, then the other face models, SR and the clip):
  machine        bf16 and fp32 4096^2 matmul rates (and a 3x3 conv), at the start and at the end of the run
  aligned face   one 512 px aligned face per face model (GPEN-512, GFPGAN v1.4, CodeFormer)
  whole photo    1024 px long side, 2 faces, each face model x background none / lanczos / general-x4v3 /
                 x2plus, through restorers' Python API, plus the PNG encode the app and the CLI do
  app click      the Restore click over HTTP against the launched app (gradio_client: upload, queue, run,
                 PNG files written and downloaded), warm
  first click    the same click in a fresh process: import, launch, first click, second click (subprocess)
  tiling         the SR backgrounds on the photo, tiled (the engine's default) vs untiled
  SR             a 512x512 Real-ESRGAN x4plus upscale
  DCGAN          one epoch of 2,000 32 px images at the study's settings
  clip           a 10 s 480p clip with GPEN-512 (whole photo, Lanczos x2): the first frames are timed and the
                 clip's time is extrapolated from them (said in the row)

Every face/SR network runs with random weights at its real configuration (benchmarks/random_weights.py:
speed does not depend on weight values; the files go through the engine's real fetch/verify/load path); the
face detector is the real RetinaFace. For each row: the minimum of the timed repeats after one counted
warm-up run (which also pays first-use costs), the FLOPs of each stage (torch.utils.flop_counter), the
compute floor (FLOPs at this machine's matmul rate in the stage's number format) and the seconds per stage.
A row whose warm-up alone takes longer than --budget is that one counted run (the row says so).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import compute_floor  # noqa: E402
from benchmarks.random_weights import build_cache, use_random_weights  # noqa: E402
from benchmarks.run import _cpu_model, _load  # noqa: E402 - the machine facts every section reports
from benchmarks.stages import NETWORK_STAGES, STAGES, StageClock  # noqa: E402

SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
REAL_CACHE = os.environ.get("HF_HUB_CACHE") or str(SHARED / "weights" / "hf-cache")
WEIGHTS_CACHE = Path(tempfile.gettempdir()) / "restorers-bench-weights"
PHOTO = SHARED / "faces" / "gfpgan-whole" / "Blake_Lively.jpg"  # 700x464, two faces (the photo at 1024 px)
PHOTO_FALLBACK = REPO_ROOT / "examples" / "two_portraits.jpg"
FACE_CROP = SHARED / "faces" / "gfpgan-cropped" / "Adele_crop.png"
FACE_CROP_FALLBACK = REPO_ROOT / "examples" / "astronaut_face.png"
COLUMNS = ("group", "case", "input", "seconds", "runs", "gflop", "floor_s", "x_floor", "x_floor_best", "stages",
           "other_s")


@dataclasses.dataclass(frozen=True)
class Plan:
    face_models: tuple[str, ...] = ("gpen-bfr-512", "gfpgan-v1.4", "codeformer")
    backgrounds: tuple[str, ...] = ("none", "lanczos", "realesr-general-x4v3", "realesrgan-x2plus")
    photo_side: int = 1024
    sr_model: str = "realesrgan-x4plus"
    sr_side: int = 512
    clip_model: str = "gpen-bfr-512"
    clip_size: tuple[int, int] = (854, 480)
    clip_fps: float = 24.0
    clip_seconds: float = 10.0
    clip_timed_frames: int = 24  # frames actually restored; the clip's time is extrapolated from them
    dcgan_images: int = 2000
    dcgan_batch: int = 256  # the study's
    dcgan_samples: int = 64  # sample images drawn after the epoch (the study's)
    tile: int | None = None  # the tiled variant's tile size (None: the engine's default)
    click: tuple[str, str] = ("gpen-bfr-512", "realesr-general-x4v3")
    cold_clicks: tuple[tuple[str, str], ...] = (("gpen-bfr-512", "realesr-general-x4v3"),
                                                ("gpen-bfr-512", "realesrgan-x2plus"))
    tiling: tuple[str, ...] = ("realesr-general-x4v3", "realesrgan-x2plus")
    # With its weights here the face parser makes the default 'parse' paste-back mask (else 'square').
    extra: tuple[str, ...] = ("parsenet",)

    @property
    def models(self) -> tuple[str, ...]:
        names = [*self.face_models, *(b for b in self.backgrounds if b not in ("none", "lanczos")), self.sr_model,
                 self.clip_model, *self.click, *(m for pair in self.cold_clicks for m in pair), *self.tiling, *self.extra]
        return tuple(dict.fromkeys(n for n in names if n not in ("none", "lanczos")))


FULL = Plan()
# Smoke test for CI: the same rows and columns on tiny work (its numbers mean nothing).
QUICK = Plan(face_models=("gpen-bfr-256",), backgrounds=("none", "lanczos", "realesr-general-x4v3"), photo_side=256,
             sr_model="realesr-general-x4v3", sr_side=32, clip_model="gpen-bfr-256", clip_size=(128, 80),
             clip_fps=8.0, clip_seconds=0.25, clip_timed_frames=1, dcgan_images=32, dcgan_batch=16, dcgan_samples=4,
             click=("gpen-bfr-256", "lanczos"), cold_clicks=(), tiling=("realesr-general-x4v3",), tile=32,
             extra=())


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] e2e: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------
# Inputs


def make_inputs(plan: Plan, folder: Path) -> dict[str, Any]:
    """The photo (long side plan.photo_side), an aligned face, an SR input and the clip, as arrays and files."""
    import numpy as np

    from restorers.media import images, video_io

    source = PHOTO if PHOTO.exists() else PHOTO_FALLBACK
    rgb = images.load_image(source).rgb
    height, width = rgb.shape[:2]
    ratio = plan.photo_side / max(height, width)
    photo = images.resize(rgb, (round(width * ratio), round(height * ratio)), "lanczos")
    photo_file = folder / "photo.jpg"
    images.to_pil(photo).save(photo_file, quality=95)  # what a user uploads: a JPEG
    crop_source = FACE_CROP if FACE_CROP.exists() else FACE_CROP_FALLBACK
    face_crop = images.load_image(crop_source).rgb
    top, left = max(0, (photo.shape[0] - plan.sr_side) // 2), max(0, (photo.shape[1] - plan.sr_side) // 2)
    sr_input = np.ascontiguousarray(photo[top:top + plan.sr_side, left:left + plan.sr_side])
    if sr_input.shape[:2] != (plan.sr_side, plan.sr_side):
        sr_input = images.resize(photo, (plan.sr_side, plan.sr_side), "lanczos")
    # The clip: a slow vertical pan over the photo scaled to the clip's width (both faces stay in the frame).
    clip_w, clip_h = plan.clip_size
    frames_total = round(plan.clip_fps * plan.clip_seconds)
    tall = images.resize(photo, (clip_w, max(clip_h, round(photo.shape[0] * clip_w / photo.shape[1]))), "lanczos")
    travel = tall.shape[0] - clip_h
    frames = [tall[round(travel * i / max(1, frames_total - 1)):][:clip_h] for i in range(frames_total)]
    clip_file = video_io.write_mp4(frames, folder / "clip.mp4", plan.clip_fps)
    return {"photo": photo, "photo_file": photo_file, "photo_source": source.name, "face": face_crop,
            "face_source": crop_source.name, "sr": sr_input, "clip": clip_file, "clip_frames": frames_total}


def _size(rgb) -> str:
    return f"{rgb.shape[1]}x{rgb.shape[0]}"


# ----------------------------------------------------------------------------------------------------
# Measuring one row


class Bench:
    def __init__(self, options: argparse.Namespace, plan: Plan) -> None:
        self.options = options
        self.plan = plan
        self.clock = StageClock()
        self.rows: list[dict[str, Any]] = []
        self.rates: list[dict[str, float]] = []
        self.header: dict[str, Any] = {}

    def wanted(self, group: str, case: str) -> bool:
        if not self.options.rows:
            return True
        label = f"{group}: {case}".lower()
        return any(part.strip().lower() in label for part in self.options.rows.split(","))

    def measure(self, group: str, case: str, input_desc: str, run: Callable[[], dict | None],
                count_flops: Callable[[], dict[str, Any]] | None = None, note: str = "") -> dict[str, Any] | None:
        """One counted warm-up run, then timed runs (at most --repeats, stopping after --budget s); min wins."""
        if not self.wanted(group, case):
            return None
        _progress(f"{group}: {case} ...")
        row: dict[str, Any] = {"group": group, "case": case, "input": input_desc, "load_before": _load()}
        try:
            self.clock.reset()
            start = time.perf_counter()
            with self.clock.counting():
                extra = run() or {}
            row["first_s"] = time.perf_counter() - start
            counted = self.clock.snapshot()
            row["flops"], row["formats"] = counted["flops"], counted["formats"]
            row["first_stages"] = counted["seconds"]
            if count_flops is not None:  # work outside the stage functions (DCGAN training)
                flops = count_flops()
                row["flops"], row["formats"] = flops["flops"], flops["formats"]
            samples = []
            began = time.perf_counter()
            # A warm-up longer than the budget is the measurement (a loaded machine; said in the row).
            repeats = self.options.repeats if row["first_s"] <= self.options.budget else 0
            if not repeats:
                note = "; ".join(filter(None, [note, "one counted run (first use included): the warm-up "
                                               f"took {row['first_s']:.0f} s, over the {self.options.budget:.0f} s budget"]))
            for _ in range(repeats):
                self.clock.reset()
                start = time.perf_counter()
                extra = run() or extra
                samples.append((time.perf_counter() - start, self.clock.snapshot()["seconds"]))
                if time.perf_counter() - began > self.options.budget:
                    break
            best_s, stages = min(samples, key=lambda sample: sample[0]) if samples else (row["first_s"],
                                                                                           row["first_stages"])
            row.update(extra)
            row.update(seconds=best_s, samples=[s for s, _ in samples], runs=len(samples), stages=stages)
        except Exception as error:  # noqa: BLE001 - one broken row must not lose the others
            row["error"] = f"{type(error).__name__}: {error}"
        row["load_after"] = _load()
        if note:
            row["note"] = note
        self.add(row)
        done = row.get("error") or f"{row['seconds']:.2f} s (first {row['first_s']:.2f} s)"
        _progress(f"{group}: {case}: {done}")
        return row

    def add(self, row: dict[str, Any]) -> None:
        """Keep the row and write what is measured so far (a long run that dies keeps its rows)."""
        self.rows.append(row)
        if self.options.json and self.rates:
            save_json(self.options.json, results(self.header, self.rates, self.rows))


def finish_row(row: dict[str, Any], rates: dict[str, float]) -> dict[str, Any]:
    """Add FLOPs, floor and ratios to a measured row (in place)."""
    if "error" in row or "seconds" not in row:
        return row
    scale = row.get("flop_scale", 1.0)  # rows measured on part of the work (the clip's first frames)
    by_format: dict[str, float] = {}
    for stage, flops in row.get("flops", {}).items():
        fmt = compute_floor.PATH_DTYPE.get(row["formats"].get(stage, "fp32"), "fp32")
        by_format[fmt] = by_format.get(fmt, 0.0) + flops * scale
    total = sum(by_format.values())
    row["gflop"] = total / 1e9
    row["floor_s"] = compute_floor.floor_seconds(by_format, rates)
    row["floor_best_s"] = compute_floor.floor_seconds(by_format, rates, best_format=True)
    seconds = row.get("extrapolated_s", row["seconds"])
    row["x_floor"] = seconds / row["floor_s"] if row["floor_s"] else None
    row["x_floor_best"] = seconds / row["floor_best_s"] if row["floor_best_s"] else None
    net_ratio = {}
    for stage in NETWORK_STAGES:
        flops = row.get("flops", {}).get(stage)
        spent = row.get("stages", {}).get(stage)
        if flops and spent:
            fmt = compute_floor.PATH_DTYPE.get(row["formats"].get(stage, "fp32"), "fp32")
            net_ratio[stage] = spent / (flops / rates[f"matmul_{fmt}"])
    row["network_x_floor"] = net_ratio
    row["other_s"] = row["seconds"] - sum(row.get("stages", {}).values())
    return row


# ----------------------------------------------------------------------------------------------------
# The rows


def rows_in_process(bench: Bench, inputs: dict[str, Any], folder: Path, models: tuple[str, ...]) -> None:
    """Aligned face and whole photo (every background) for ``models``, through restorers' Python API."""
    import restorers
    from restorers.media import images

    plan = bench.plan
    photo, photo_desc = inputs["photo"], f"{_size(inputs['photo'])} photo"

    def png(result) -> None:
        images.save_png(folder / "out.png", result.image, compress_level=images.PNG_LEVEL_FAST)

    for model in models:
        restorer = restorers.load(model)

        def aligned(restorer=restorer) -> dict:
            result = restorer.restore(inputs["face"], mode="aligned")
            png(result)
            return {"faces": 1, "precision": restorer.precision}

        bench.measure("aligned face", model, f"{_size(inputs['face'])} crop ({inputs['face_source']})", aligned)
        for background in plan.backgrounds:
            def whole(restorer=restorer, background=background) -> dict:
                result = restorer.restore(photo, mode="whole", background=background)
                png(result)
                return {"faces": len(result.faces), "output": _size(result.image), "precision": restorer.precision,
                        "mask": result.mask}

            bench.measure("whole photo", f"{model} + {background}", f"{photo_desc} ({inputs['photo_source']})", whole)


def rows_tiling(bench: Bench, inputs: dict[str, Any]) -> None:
    import restorers

    plan = bench.plan
    photo = inputs["sr"] if plan.tile else inputs["photo"]  # quick: a tiny input cut in tiny tiles
    tiled = "tiled (default)" if plan.tile is None else f"tiled ({plan.tile} px)"
    for model in plan.tiling:
        upsampler = restorers.load(model)
        for label, tile in ((tiled, plan.tile), ("untiled", 0)):
            bench.measure("tiling", f"{model} x2, {label}", f"{_size(photo)} photo",
                          lambda upsampler=upsampler, tile=tile: {"output": _size(upsampler.upscale(photo, 2.0, tile))})


def rows_sr(bench: Bench, inputs: dict[str, Any], folder: Path) -> None:
    import restorers
    from restorers.media import images

    restorer = restorers.load(bench.plan.sr_model)

    def upscale() -> dict:
        result = restorer.restore(inputs["sr"])
        images.save_png(folder / "sr.png", result.image, compress_level=images.PNG_LEVEL_FAST)
        return {"output": _size(result.image), "precision": restorer.precision}

    bench.measure("SR", f"{bench.plan.sr_model} x{restorer.spec.scale}", f"{_size(inputs['sr'])}", upscale)


def rows_dcgan(bench: Bench) -> None:
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from restorers.dcgan.config import TrainConfig
    from restorers.dcgan.training import Done, train

    count = bench.plan.dcgan_images
    data = np.random.default_rng(0).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    config = TrainConfig(epochs=1, batch_size=bench.plan.dcgan_batch, samples=bench.plan.dcgan_samples)

    def epoch() -> dict:
        for event in train(data, config):
            if isinstance(event, Done):
                break
        return {"precision": config.precision, "threads": torch.get_num_threads()}

    def flops() -> dict:
        # One batch's iteration (forward, backward, Adam) counted, times the images of the epoch.
        sample = data[: min(count, config.batch_size)]
        with FlopCounterMode(display=False) as counter:
            for event in train(sample, dataclasses.replace(config, samples=1)):
                if isinstance(event, Done):
                    break
        return {"flops": {"train": counter.get_total_flops() * count / len(sample)}, "formats": {"train": "fp32"}}

    bench.measure("DCGAN", f"one epoch, batch {config.batch_size}, {config.precision}",
                  f"{count} images 32x32", epoch, count_flops=flops)


def rows_clip(bench: Bench, inputs: dict[str, Any], folder: Path) -> None:
    from restorers.pipelines.video import restore_video

    plan = bench.plan
    timed = min(plan.clip_timed_frames, inputs["clip_frames"])
    scale = inputs["clip_frames"] / timed

    def clip() -> dict:
        result = restore_video(inputs["clip"], folder / "clip-out.mp4", plan.clip_model, max_frames=timed)
        return {"frames_timed": result.frames, "faces": result.faces, "output": f"{result.size[0]}x{result.size[1]}",
                "flop_scale": scale}

    width, height = plan.clip_size
    row = bench.measure("clip", f"{plan.clip_model} + lanczos x2",
                        f"{plan.clip_seconds:g} s {width}x{height} at {plan.clip_fps:g} fps ({inputs['clip_frames']} frames)",
                        clip, note=f"{timed} of {inputs['clip_frames']} frames timed; seconds scaled by {scale:.1f}")
    if row and "seconds" in row:
        row["timed_s"] = row["seconds"]
        row["extrapolated_s"] = row["seconds"] * scale


@contextlib.contextmanager
def launched_app():
    """The app, launched in this process on a free port; yields its URL."""
    import app

    port = _free_port()
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


def click(client, photo_file: Path, model: str, background: str) -> dict:
    """One Restore click: upload, run one model on the whole photo, download the PNGs it returns."""
    from gradio_client import handle_file
    from PIL import Image

    gallery, *_ = client.predict(handle_file(str(photo_file)), [model], 2.0, "whole", background, False, 0, 0.97,
                                 1.0, api_name="/restore")
    with Image.open(gallery[0]["image"]) as image:
        return {"output": f"{image.width}x{image.height}", "png": Path(gallery[0]["image"]).suffix}


def rows_app(bench: Bench, inputs: dict[str, Any]) -> None:
    from gradio_client import Client

    model, background = bench.plan.click
    if not bench.wanted("app click", f"{model} + {background}"):
        return
    with launched_app() as url:
        client = Client(url, verbose=False)
        bench.measure("app click", f"{model} + {background}", f"{_size(inputs['photo'])} JPEG upload",
                      lambda: click(client, inputs["photo_file"], model, background))


def rows_cold(bench: Bench, inputs: dict[str, Any]) -> None:
    for model, background in bench.plan.cold_clicks:
        case = f"{model} + {background}"
        if not bench.wanted("first click", case):
            continue
        _progress(f"first click: {case} (fresh process) ...")
        config = json.dumps({"cache": str(bench.options.weights_cache), "models": bench.plan.models,
                             "photo": str(inputs["photo_file"]),
                             "model": model, "background": background})
        command = [sys.executable, "-m", "benchmarks.bench_e2e", "--cold-child", repr(time.time()), config]
        row: dict[str, Any] = {"group": "first click", "case": case, "input": f"{_size(inputs['photo'])} JPEG upload",
                               "load_before": _load()}
        proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=bench.options.cold_timeout)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            row["error"] = f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
        else:
            child = json.loads(lines[-1])
            row.update(child)
            row["runs"] = 1
        row["load_after"] = _load()
        bench.add(row)
        done = row.get("error") or f"{row['seconds']:.2f} s"
        _progress(f"first click: {case}: {done}")


def cold_child(t0: float, config: dict) -> dict[str, Any]:
    """In a fresh process: registry on the random-weight cache, import and launch the app, click twice."""
    marks = {"interpreter up": time.time() - t0}
    use_random_weights(Path(config["cache"]), tuple(config["models"]))
    clock = StageClock()
    with clock.installed():
        with launched_app() as url:
            marks["server listening"] = time.time() - t0
            from gradio_client import Client

            client = Client(url, verbose=False)
            marks["client connected"] = time.time() - t0
            start = time.perf_counter()
            output = click(client, Path(config["photo"]), config["model"], config["background"])
            first = time.perf_counter() - start
            marks["first click done"] = time.time() - t0
            first_stages = clock.snapshot()["seconds"]
            clock.reset()
            start = time.perf_counter()
            click(client, Path(config["photo"]), config["model"], config["background"])
            second = time.perf_counter() - start
            marks["second click done"] = time.time() - t0
    return {"seconds": first, "second_s": second, "marks": marks, "stages": first_stages,
            "second_stages": clock.snapshot()["seconds"], **output}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------------------------------
# Results


def attach_flops(rows: list[dict[str, Any]], earlier: list[dict[str, Any]] = ()) -> None:
    """Clicks do the work of the whole-photo row with the same model and background: use its FLOPs (from
    ``rows``, else from ``earlier`` rows: a previous run of the same code)."""
    by_case = {row["case"]: row for row in [*earlier, *rows] if row["group"] == "whole photo" and row.get("flops")}
    for row in rows:
        if row["group"] in ("app click", "first click") and not row.get("flops") and row["case"] in by_case:
            source = by_case[row["case"]]
            row["flops"], row["formats"] = dict(source["flops"]), dict(source["formats"])


def run(options: argparse.Namespace) -> dict[str, Any]:
    import torch

    plan = QUICK if options.quick else FULL
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    _progress(f"weights cache {options.weights_cache} ({', '.join(plan.models)})")
    build_cache(options.weights_cache, plan.models, REAL_CACHE)
    patched = use_random_weights(options.weights_cache, plan.models)
    bench = Bench(options, plan)
    header = bench.header
    header.update({"quick": options.quick, "repeats": options.repeats, "budget_s": options.budget,
              "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu": _cpu_model(),
              "cpu_flags": _cpu_flags(), "logical_cpus": os.cpu_count(), "load_start": _load(),
              "random_weights": patched, "detector": "real RetinaFace (published weights)",
              "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())})
    _progress("machine rates ...")
    bench.rates.append(compute_floor.machine_rates(options.quick))
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp, bench.clock.installed():
        folder = Path(tmp)
        inputs = make_inputs(plan, folder)
        header.update(photo=f"{_size(inputs['photo'])} ({inputs['photo_source']})",
                      face_crop=inputs["face_source"])
        # The rows the targets name come first (on a loaded machine a run may not finish).
        first, rest = plan.face_models[:1], plan.face_models[1:]
        rows_in_process(bench, inputs, folder, first)
        rows_app(bench, inputs)
        rows_cold(bench, inputs)
        rows_dcgan(bench)
        rows_tiling(bench, inputs)
        rows_in_process(bench, inputs, folder, rest)
        rows_sr(bench, inputs, folder)
        rows_clip(bench, inputs, folder)
    _progress("machine rates (end) ...")
    bench.rates.append(compute_floor.machine_rates(options.quick))
    header["load_end"] = _load()
    return results(header, bench.rates, bench.rows)


def results(header: dict[str, Any], rate_samples: list[dict[str, float]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Header, the best rates seen, and the rows with FLOPs, floors and ratios added."""
    rates = compute_floor.best_rates(*rate_samples)
    attach_flops(rows)
    for row in rows:
        finish_row(row, rates)
    return {"header": {**header, "load_now": _load()}, "rates": rates, "rate_samples": rate_samples, "rows": rows}


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' results as one (rows measured by separate --rows runs, e.g. when the machine's load
    changed): rows in run order, each row's floor at the rates measured in its own run (the load moves the
    rates too), clicks given the FLOPs of the whole-photo row with the same models from any run."""
    rows: list[dict[str, Any]] = []
    for run in runs:  # a run's clicks take FLOPs from its own rows, else from the runs before it
        attach_flops(run["rows"], rows)
        rows.extend(run["rows"])
    summary = []
    for run in runs:
        rates = compute_floor.best_rates(*run["rate_samples"])
        for row in run["rows"]:
            finish_row(row, rates)
        header = run["header"]
        summary.append({"date_utc": header["date_utc"], "rows": [f"{r['group']}: {r['case']}" for r in run["rows"]],
                        "load_start": header["load_start"], "load_end": header.get("load_end", header["load_now"]),
                        "rates": rates})
    header = {**runs[0]["header"], "load_end": summary[-1]["load_end"], "runs": summary}
    return {"header": header, "rates": compute_floor.best_rates(*runs[0]["rate_samples"]),
            "rate_samples": [sample for run in runs for sample in run["rate_samples"]], "rows": rows}


def save_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def _cpu_flags() -> list[str]:
    """The CPU features that decide bf16 / int8 speed (AMX, AVX512-BF16, AVX512-VNNI)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith("amx") or f in ("avx512_bf16", "avx512_vnni",
                                                                               "avx512f", "avx2"))
    return []


# ----------------------------------------------------------------------------------------------------
# Markdown


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _stage_cell(row: dict[str, Any], stage: str) -> str:
    seconds = row.get("stages", {}).get(stage)
    if not seconds or seconds < 0.005:
        return ""
    ratio = row.get("network_x_floor", {}).get(stage)
    return f"{seconds:.2f}" + (f" ({ratio:.1f}x)" if ratio else "")


def table(rows: list[dict[str, Any]]) -> str:
    stages = [s for s in STAGES if any(row.get("stages", {}).get(s, 0) >= 0.005 for row in rows)]
    headers = ["wait", "input", "s (min)", "runs", "GFLOP", "floor s", "x floor", "x best floor",
               *[f"{s} s" for s in stages], "other s"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['group']}: {row['case']} | {row['input']} | ERROR: {row['error'][:120]} |"
                         + " |" * (len(headers) - 3))
            continue
        seconds = _f(row["seconds"])
        if "extrapolated_s" in row:
            seconds = f"{row['extrapolated_s']:.0f} (est.)"
        if "second_s" in row:
            seconds = f"{row['seconds']:.2f} (2nd {row['second_s']:.2f})"
        runs = row.get("runs") or "warm-up only"  # 0: the warm-up, over the budget, is the measurement
        cells = [f"{row['group']}: {row['case']}", row["input"], seconds, runs, _f(row.get("gflop"), 1),
                 _f(row.get("floor_s")), _f(row.get("x_floor"), 1), _f(row.get("x_floor_best"), 1),
                 *[_stage_cell(row, s) for s in stages], _f(row.get("other_s"))]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def _row(rows: list[dict[str, Any]], group: str, case: str) -> dict[str, Any] | None:
    """The fastest measurement of this wait (merged runs may hold several)."""
    found = [r for r in rows if r["group"] == group and r["case"] == case and "seconds" in r]
    return min(found, key=lambda r: r["seconds"], default=None)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 20 part 5: each target, what was measured, and the factor by which it is met (<= 1) or missed."""
    rows = results["rows"]
    out = []

    def add(name: str, limit: float, value: float | None, source: str) -> None:
        out.append({"target": name, "limit": limit, "measured": value, "source": source,
                    "factor": None if value is None else value / limit})

    for background, limit in (("realesr-general-x4v3", 3.0), ("realesrgan-x2plus", 8.0)):
        case = f"gpen-bfr-512 + {background}"
        warm = _row(rows, "whole photo", case)
        add(f"whole photo, GPEN-512 + {background}, warm", limit, warm and warm["seconds"], "whole photo row")
        cold = _row(rows, "first click", case)
        add(f"whole photo, GPEN-512 + {background}, first click after start-up", limit, cold and cold["seconds"],
            "first click row (fresh process, over HTTP)")
    first_face = _row(rows, "whole photo", "gpen-bfr-512 + lanczos")
    add("first restored face on screen (faces on a Lanczos background)", 2.0, first_face and first_face["seconds"],
        "whole photo GPEN-512 + lanczos: the earliest a progressive page can show faces")
    ratios = [(r["network_x_floor"][s], f"{r['group']}: {r['case']} ({s})") for r in rows
              for s in r.get("network_x_floor", {})]
    worst = max(ratios, default=(None, ""))
    add("every network within 1.5x of its compute floor (worst network)", 1.5, worst[0], worst[1])
    for model in ("realesr-general-x4v3", "realesrgan-x2plus"):
        tiled = _row(rows, "tiling", f"{model} x2, tiled (default)")
        untiled = _row(rows, "tiling", f"{model} x2, untiled")
        ratio = tiled["seconds"] / untiled["seconds"] if tiled and untiled else None
        add(f"tiled <= 1.15x untiled ({model}, the photo)", 1.15, ratio, "tiling rows")
    dcgan = min((r for r in rows if r["group"] == "DCGAN" and "seconds" in r), key=lambda r: r["seconds"], default=None)
    add("DCGAN epoch, 2,000 images at 32 px", 20.0, dcgan and dcgan["seconds"], "DCGAN row")
    return out


def targets_table(items: list[dict[str, Any]]) -> str:
    lines = ["| target | limit | measured | measured / limit |", "|---|---|---|---|"]
    for item in items:
        factor = item["factor"]
        verdict = "not measured" if factor is None else ("met" if factor <= 1 else f"missed by {factor:.1f}x")
        lines.append(f"| {item['target']} | {item['limit']:g} | {_f(item['measured'])} | "
                     f"{'—' if factor is None else f'{factor:.2f}'} ({verdict}) |")
    return "\n".join(lines)


def _rates_text(rates: dict[str, float]) -> str:
    return (f"matmul bf16 {rates['matmul_bf16'] / 1e12:.3f} TFLOP/s, fp32 {rates['matmul_fp32'] / 1e12:.3f} TFLOP/s; "
            f"3x3 conv 64->64 bf16 {rates['conv3x3_bf16'] / 1e12:.3f}, fp32 {rates['conv3x3_fp32'] / 1e12:.3f}")


def markdown(results: dict[str, Any]) -> str:
    header, rates = results["header"], results["rates"]
    rate_lines = [f"Machine rates (best of start and end; {int(results['rate_samples'][0]['matmul_size'])}^2 matmul): "
                  f"{_rates_text(rates)}."]
    if header.get("runs"):  # merged runs: each row's floor uses its own run's rates
        rate_lines = [f"Run {i + 1} ({run['date_utc']} UTC, load average {run['load_start'][0]:.1f} -> "
                      f"{run['load_end'][0]:.1f}; {len(run['rows'])} rows): {_rates_text(run['rates'])}."
                      for i, run in enumerate(header["runs"])]
    lines = [
        f"CPU {header['cpu']} ({header['logical_cpus']} logical CPUs; flags: {', '.join(header['cpu_flags']) or '?'}), "
        f"torch {header['torch']}, {header['threads']} threads; load average {header['load_start'][0]:.1f} at the "
        f"start, {header.get('load_end', header['load_now'])[0]:.1f} at the end. Photo {header['photo']}.",
        *rate_lines,
        "",
        table(results["rows"]),
        "",
        targets_table(targets(results)),
    ]
    notes = [f"- {r['group']}: {r['case']}: {r['note']}" for r in results["rows"] if r.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


# ----------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, GPEN-256 and general-x4v3 only, 1 repeat")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per row after the warm-up (min wins)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of timed runs per row after which "
                        "repeats stop (at least one)")
    parser.add_argument("--rows", help="only rows whose 'group: case' contains one of these comma-separated texts")
    parser.add_argument("--weights-cache", type=Path, default=WEIGHTS_CACHE, help="where the random-weight hub "
                        "cache is built (reused across runs)")
    parser.add_argument("--cold-timeout", type=float, default=1800.0, help="seconds a first-click process may take")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--markdown", type=Path, nargs="+", metavar="JSON", help="print the tables of saved results "
                        "(e.g. benchmarks/results/e2e.json, also runs that stopped part way; several runs are merged, "
                        "and --json saves the merge) and exit")
    parser.add_argument("--cold-child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.repeats = 1
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    if options.cold_child:
        print(json.dumps(cold_child(float(options.cold_child[0]), json.loads(options.cold_child[1]))))
        return
    if options.markdown:
        data = merge([json.loads(path.read_text()) for path in options.markdown])
        if options.json:
            save_json(options.json, data)
        print(markdown(data))
        return
    data = run(options)
    if options.json:
        save_json(options.json, data)
    print(markdown(data))


if __name__ == "__main__":
    main()
