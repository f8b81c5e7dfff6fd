"""The project's benchmark: every measurement in one run, reported as ratios and raw numbers.

    python -m benchmarks [--quick] [--only SECTION[,SECTION]] [--repeats N] [--with-2048] [--json PATH]
    python benchmarks/run.py ...

Sections, in run order:
  models     each network at its natural input size: fp32 eager vs the fast path (bf16 autocast +
             channels_last on CPU), speed-up, PSNR between the two outputs, peak RSS of its process
  sr2048     tiled Real-ESRGAN x4plus on 2048x2048 through SRRestorer (only with --with-2048 or --only)
  faces      detection, and the whole-photo GPEN-512 pipeline batched vs one face at a time
  paste      paste-back masks 'square' vs 'parse' on the whole photos: seam strength and change outside the
             face (benchmarks.bench_paste; stand-ins, labelled, where weights are missing; skipped by --quick)
  coldstart  a fresh process imports the app, launches it and makes one /restore call (Lanczos)
  metrics    restorers.analysis.metrics vs sewar (benchmarks.bench_metrics)
  animate    GIF / MP4 writing of 60 frames (benchmarks.bench_animate)
  video      video throughput at 480p, peak RSS on long 720p clips, steady faces (benchmarks.bench_video;
             child processes; skipped by --quick)
  dcgan      DCGAN training images/s at 32 and 64 px, fp32 vs channels_last vs bf16, and one 2,000-image
             epoch at 32 px (benchmarks.bench_dcgan; skipped by --quick)
  e2e        the user's waits end to end against the compute floor: whole photo per face model and
             background, aligned face, x4plus upscale, a 480p clip, a DCGAN epoch, the Restore click over
             HTTP warm and in a fresh process (benchmarks.bench_e2e, in a child process; skipped by --quick
             unless named by --only; full runs write benchmarks/results/e2e.json)

Networks are randomly initialised at their real configurations (speed does not depend on weight
values). Every network measurement runs in its own child process, so each has its own peak RSS;
this process imports nothing heavy until the in-process sections (metrics, animate), which run last.
The machine may be shared: variants are interleaved, medians reported, and the load average logged.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(REPO_ROOT))

SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "latest.json"
E2E_JSON = REPO_ROOT / "benchmarks" / "results" / "e2e.json"  # the e2e section's raw numbers (full runs)
SECTIONS = ("models", "sr2048", "faces", "paste", "coldstart", "metrics", "animate", "video", "dcgan", "e2e")
QUICK_SKIPS = ("sr2048", "paste", "coldstart", "video", "dcgan", "e2e")
CASE_TIMEOUT_S = 3600.0
COLD_START_TIMEOUT_S = 300.0
COLD_START_PHOTO = SHARED / "faces" / "gfpgan-cropped" / "Adele_crop.png"
COLD_START_OUTSCALE = 2.0
# /restore arguments after (image, models, outscale): mode, background, only_center_face, min_face,
# threshold, blend (see tests/test_app_api.py).
FACE_DEFAULTS = ["whole", "lanczos", False, 0, 0.97, 1.0]


# ----------------------------------------------------------------------------------------------------
# Child processes


def child_env() -> dict[str, str]:
    """This environment plus offline hub settings (the only real weights are RetinaFace's in ../shared)."""
    env = dict(os.environ)
    if (SHARED / "weights" / "hf-cache").is_dir():
        env.setdefault("HF_HUB_CACHE", str(SHARED / "weights" / "hf-cache"))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return env


def run_child(module: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run `python -m module args` and parse the JSON object on its last stdout line."""
    start = time.perf_counter()
    command = [sys.executable, "-m", module, *args]
    try:
        proc = subprocess.run(command, cwd=REPO_ROOT, env=child_env(), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    result = json.loads(lines[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def run_case(case: str, options: argparse.Namespace, timeout: float = CASE_TIMEOUT_S) -> dict[str, Any]:
    args = ["--case", case, "--json", "--repeats", str(options.repeats), "--budget", str(options.budget),
            "--time-box", str(options.time_box), "--device", options.device]
    return run_child("benchmarks.bench_models", args + (["--quick"] if options.quick else []), timeout)


# ----------------------------------------------------------------------------------------------------
# Formatting


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _notes(rows: list[dict[str, Any]]) -> str:
    notes = sorted({f"{r.get('case', '?')}: {r['note']}" for r in rows if r.get("note")})
    errors = [f"{r.get('case', '?')}: ERROR {r['error']}" for r in rows if r.get("error")]
    return "\n".join(f"- {line}" for line in notes + errors)


def _median(values: list[int] | None) -> str:
    return "-" if not values else str(round(statistics.median(values)))


def models_markdown(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if "error" not in r]
    fast = ok[0]["fast_path"] if ok else "fast path"
    body = _table(
        ["case", "input → output", "path", "fp32 eager (s)", f"{fast} (s)", "speed-up", "PSNR fast vs fp32 (dB)",
         "unclamped (dB)", "page faults/call fp32, fast", "peak RSS (MiB)", "samples"],
        [[r["case"], f"{r['input']} → {r['output']}", r["path"], r["fp32_s"], r["fast_s"], f"{r['speedup']:.2f}x",
          "identical" if r["psnr_db"] is None else r["psnr_db"],
          "identical" if r.get("psnr_unclamped_db") is None else r["psnr_unclamped_db"],
          f"{_median(r.get('fp32_faults'))}, {_median(r.get('fast_faults'))}", round(r["peak_rss_mib"]),
          f"{len(r['fp32_samples'])}+{len(r['fast_samples'])}"] for r in ok],
    )
    intro = ("Random-init networks at the real configurations (torch.manual_seed(0)); median seconds per call; "
             "peak RSS of the case's process, both copies of the weights resident; samples fp32+fast "
             "(a warm-up longer than 20 s counts as one). PSNR: the fast path's output against fp32's, both mapped "
             "to [0, 1] and clamped there as the engine's uint8 output is; 'unclamped' without the clamp (values "
             "outside the image range count too). Both are of random-weight outputs: they show the fast path runs "
             "correctly, not what trained weights would give. Page faults: minor faults per timed call, median "
             "(the engine keeps glibc malloc from returning freed memory; RESTORERS_MALLOC_TUNING=0 measures without).")
    return "\n\n".join(part for part in (intro, body, _notes(rows)) if part)


def sr2048_markdown(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if "error" not in r]
    body = _table(
        ["input → output", "fast path", "tiles run / total", "wall (s)", "median s / tile", "est. full run (s)",
         "peak RSS (MiB)", "≤ 4 GB"],
        [[f"{r['input']} → {r['output']}", r["fast_path"], f"{r['tiles_run']} / {r['tiles']}", r["wall_s"],
          r["tile_s_median"], r["estimated_full_s"], round(r["peak_rss_mib"]), "yes" if r["within_4gb"] else "NO"]
         for r in ok],
    )
    intro = ("SRRestorer.upscale (pre-pad, tile 256 / overlap 16, stitching, uint8), random-init x4plus. "
             "Tiles past the time box are replaced by a nearest-neighbour stand-in so the rest of the path "
             "still runs; the full-run estimate costs them at the measured seconds per pixel.")
    return "\n\n".join(part for part in (intro, body, _notes(rows)) if part)


def faces_markdown(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if "error" not in r]
    pipeline = _table(
        ["photo", "size", "faces", "detect (s)", "model", "batched (s)", "one at a time (s)",
         "one-at-a-time / batched", "peak RSS (MiB)"],
        [[r["photo"], r["photo_size"], r["faces_found"], r["detect_s"], f"{r['model']}, batch {r['face_batch']}",
          r["batched_s"], r["sequential_s"], f"{r['sequential_over_batched']:.2f}x", round(r["peak_rss_mib"])]
         for r in ok],
    )
    detection = _table(
        ["photo", "size", "faces", "detect (s)"],
        [[r["group_photo"], r["group_size"], r["group_faces"], r["group_detect_s"]] for r in ok],
    )
    intro = ("Whole-photo pipeline (detect, align, restore, paste onto a Lanczos x2 background) on the fast path, "
             "all faces in one network call vs one at a time ($RESTORERS_FACE_BATCH); RetinaFace is the real "
             "detector, the face network is random-init.")
    intro += "".join(f" Engine default batch on this device: {r['engine_face_batch']}." for r in ok[:1])
    return "\n\n".join(part for part in (intro, pipeline, "Detection only:", detection, _notes(rows)) if part)


def coldstart_markdown(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if "error" not in r]
    marks = ok[0]["marks"] if ok else {}
    body = _table(["milestone", "s since process start"], [[name, seconds] for name, seconds in marks.items()])
    extra = [f"peak RSS {round(r['peak_rss_mib'])} MiB; restored {r['output']} from {r['photo']}" for r in ok]
    return "\n\n".join(part for part in (body, *extra, _notes(rows)) if part)


def metrics_markdown(rows: list[dict[str, Any]]) -> str:
    from benchmarks.bench_metrics import to_markdown

    return to_markdown(rows)


def animate_markdown(rows: list[dict[str, Any]]) -> str:
    return _table(
        ["writer", "frames", "size", "seconds", "x write_gif", "KiB"],
        [[r["writer"], r["frames"], f"{r['size']}x{r['size']}", r["seconds"], f"{r['x_vs_write_gif']:.1f}",
          round(r["kib"])] for r in rows],
    )


# ----------------------------------------------------------------------------------------------------
# Sections


def section_models(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    names = env.get("quick_cases" if options.quick else "cases", [])
    rows = []
    for name in names:
        result = run_case(name, options)
        result.setdefault("case", name)
        rows.append(result)
        summary = result.get("error") or f"fp32 {result['fp32_s']:.2f} s, fast {result['fast_s']:.2f} s"
        _progress(f"models: {name}: {summary} ({result.get('process_s', 0):.0f} s in all)")
    return rows


def section_sr2048(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(run_case("sr2048", options, timeout=options.time_box + 1800), case="sr2048")]


def section_faces(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(run_case("faces", options), case="faces")]


def section_paste(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks import bench_paste

    return bench_paste.run()


def paste_markdown(rows: list[dict[str, Any]]) -> str:
    from benchmarks.bench_paste import to_markdown

    return to_markdown(rows)


def section_coldstart(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    args = ["--cold-start-child", repr(time.time())]
    return [dict(run_child("benchmarks.run", args, COLD_START_TIMEOUT_S), case="coldstart")]


@contextlib.contextmanager
def _metric_sizes(sizes: tuple[int, ...] | None) -> Iterator[None]:
    """--quick: score small images (bench_metrics reads its SIZES when run() is called)."""
    from benchmarks import bench_metrics

    saved = bench_metrics.SIZES
    if sizes is not None:
        bench_metrics.SIZES = sizes
    try:
        yield
    finally:
        bench_metrics.SIZES = saved


def section_metrics(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks import bench_metrics

    with _metric_sizes((64,) if options.quick else None):  # sewar's MS-SSIM needs 41+ px
        return bench_metrics.run(repeats=options.repeats)


def section_animate(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks import bench_animate

    if options.quick:
        return bench_animate.run(frames=4, size=32, repeats=1)
    return bench_animate.run(frames=60, size=256, repeats=options.repeats)


def section_video(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks.bench_video import CASES

    rows = []
    for case in CASES:
        args = ["--case", case, "--json", "--repeats", str(options.repeats)] + (["--quick"] if options.quick else [])
        result = run_child("benchmarks.bench_video", args, CASE_TIMEOUT_S)
        result.setdefault("case", case)
        rows.append(result)
        _progress(f"video: {case}: {result.get('error') or 'done'} ({result.get('process_s', 0):.0f} s)")
    return rows


def video_markdown(rows: list[dict[str, Any]]) -> str:
    from benchmarks.bench_video import markdown

    return markdown(rows)


def section_dcgan(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks import bench_dcgan

    return bench_dcgan.run(repeats=options.repeats, quick=options.quick)


def dcgan_markdown(rows: list[dict[str, Any]]) -> str:
    from benchmarks.bench_dcgan import to_markdown

    return to_markdown(rows)


def section_e2e(options: argparse.Namespace, env: dict[str, Any]) -> list[dict[str, Any]]:
    """benchmarks.bench_e2e in a child process (it repoints the registry at random weights); its progress
    goes to this stderr, its results come back as one row."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "e2e.json" if options.quick else E2E_JSON  # rewritten after every row
        command = [sys.executable, "-m", "benchmarks.bench_e2e", "--json", str(out), "--repeats", str(options.repeats)]
        proc = subprocess.run(command + (["--quick"] if options.quick else []), cwd=REPO_ROOT, env=child_env(),
                              stdout=subprocess.DEVNULL, timeout=4 * CASE_TIMEOUT_S)
        if proc.returncode != 0 or not out.exists():
            return [{"case": "e2e", "error": f"exit {proc.returncode}"}]
        return [{"case": "e2e", "results": json.loads(out.read_text())}]


def e2e_markdown(rows: list[dict[str, Any]]) -> str:
    from benchmarks.bench_e2e import markdown

    return markdown(rows[0]["results"])


Rows = list[dict[str, Any]]
Measure = Callable[[argparse.Namespace, dict[str, Any]], Rows]
Section = tuple[Measure, Callable[[Rows], str], str]  # measure, Markdown table, title
SECTION_TABLE: dict[str, Section] = {
    "models": (section_models, models_markdown, "Per-model latency: fp32 eager vs fast path"),
    "sr2048": (section_sr2048, sr2048_markdown, "Tiled Real-ESRGAN x4plus on 2048x2048 (engine path)"),
    "faces": (section_faces, faces_markdown, "Whole-photo face pipeline"),
    "paste": (section_paste, paste_markdown, "Paste-back masks: square vs parse"),
    "coldstart": (section_coldstart, coldstart_markdown, "App cold start (process start -> first restored image)"),
    "metrics": (section_metrics, metrics_markdown, "Metrics vs sewar"),
    "animate": (section_animate, animate_markdown, "GIF / MP4 writing"),
    "video": (section_video, video_markdown, "Video: throughput, memory, steady faces"),
    "dcgan": (section_dcgan, dcgan_markdown, "DCGAN training throughput"),
    "e2e": (section_e2e, e2e_markdown, "End-to-end waits and the compute floor"),
}


# ----------------------------------------------------------------------------------------------------
# Cold start child


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cold_start_child(t0: float) -> dict[str, Any]:
    """In a fresh process: import the app, launch it, one /restore call with Lanczos; seconds since t0."""
    marks = {"interpreter up": time.time() - t0}
    import app  # builds the Blocks

    marks["app imported"] = time.time() - t0
    port = _free_port()
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    marks["server listening"] = time.time() - t0
    from gradio_client import Client, handle_file
    from PIL import Image

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    marks["client connected"] = time.time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        photo = COLD_START_PHOTO
        if not photo.exists():  # without ../shared: any photo-sized image will do
            photo = Path(tmp) / "photo.png"
            Image.effect_noise((512, 512), 60).convert("RGB").save(photo)
        gallery, *_ = client.predict(handle_file(str(photo)), ["lanczos"], COLD_START_OUTSCALE, *FACE_DEFAULTS,
                                     api_name="/restore")
        marks["first restored image"] = time.time() - t0
        with Image.open(gallery[0]["image"]) as restored:
            size = f"{restored.width}x{restored.height}"
    app.demo.close()
    from benchmarks.bench_models import peak_rss_mib

    return {"case": "coldstart", "marks": marks, "photo": photo.name, "output": size, **peak_rss_mib()}


# ----------------------------------------------------------------------------------------------------
# Runner


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def header(env: dict[str, Any], load: list[float]) -> str:
    bf16 = "yes" if env.get("bf16") else "no"
    return (f"CPU {_cpu_model()} ({os.cpu_count()} logical CPUs, {env.get('cpu_capability', '?')}) · "
            f"torch {env.get('torch', '?')} · {env.get('threads', '?')} threads · bf16 {bf16} "
            f"(fast path: {env.get('fast_precision_cpu', '?')}) · "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC · "
            f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")


def select_sections(options: argparse.Namespace) -> list[str]:
    if options.only:
        wanted = [name.strip() for name in options.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in SECTIONS]
        if unknown:
            raise SystemExit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
        return [name for name in SECTIONS if name in wanted]
    chosen = [name for name in SECTIONS if name != "sr2048" or options.with_2048]
    return [name for name in chosen if not (options.quick and name in QUICK_SKIPS)]


def _write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(path)


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen sections, print a Markdown table per section, write the JSON after each one."""
    sections = select_sections(options)
    if options.json is None and sections != ["e2e"]:  # e2e alone: only its own e2e.json is written
        options.json = DEFAULT_JSON
    env = run_case("env", options, timeout=300)
    load = _load()
    results: dict[str, Any] = {
        "header": {**env, "cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "load_average": load,
                   "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                   "argv": sys.argv[1:], "quick": options.quick, "repeats": options.repeats},
        "sections": {},
    }
    print(f"# Benchmarks{' (--quick: smoke test, not measurements)' if options.quick else ''}\n")
    print(header(env, load) + "\n", flush=True)
    for name in sections:
        measure, markdown, title = SECTION_TABLE[name]
        _progress(f"{name}: start")
        before, start = _load(), time.perf_counter()
        try:
            rows = measure(options, env)
        except Exception as error:  # noqa: BLE001 - one broken section must not lose the others
            rows = [{"case": name, "error": f"{type(error).__name__}: {error}"}]
        after = _load()
        results["sections"][name] = {"rows": rows, "seconds": time.perf_counter() - start,
                                     "load_before": before, "load_after": after}
        if options.json is not None:
            _write_json(options.json, results)
        try:
            table = markdown(rows)
        except (KeyError, TypeError) as error:  # a section that errored has no numbers to show
            table = _notes(rows) or f"- no table: {error}"
        print(f"## {title}\n\n{table}\n\n_load average {after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f} "
              f"after this section_\n", flush=True)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, 1 repeat, no 2048 / cold start")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per variant (median reported)")
    parser.add_argument("--json", type=Path, help="where the raw numbers go (default: benchmarks/results/latest.json; "
                        "none when e2e is the only section: it writes benchmarks/results/e2e.json itself)")
    parser.add_argument("--with-2048", action="store_true", help="also run the slow 2048x2048 tiled SR case")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per model case after which "
                        "repeats stop (at least one sample each)")
    parser.add_argument("--time-box", type=float, default=600.0, help="sr2048: seconds of network time")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--cold-start-child", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.repeats = 1
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    if options.cold_start_child is not None:
        print(json.dumps(cold_start_child(options.cold_start_child)))
        return
    run(options)


if __name__ == "__main__":
    main()
