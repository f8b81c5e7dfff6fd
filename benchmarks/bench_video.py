"""Video: throughput of the engine at 480p, flat memory on long clips, and how steady faces are.

Cases (each prints one JSON object with --json; `python -m benchmarks --only video` runs them in child
processes, so every case has its own peak RSS):

  throughput  frames per second of restorers.pipelines.video.process_video on a 854x480 clip (the example's
              pan and zoom over two portraits, at 480p) for Lanczos, realesr-general-x4v3 and
              gpen-bfr-512 in whole-photo mode, output x2; random-init networks at their real
              configurations (speed does not depend on weight values); fp32 vs the fast path,
              interleaved, median of the repeats.
  memory      peak RSS of process_video (Lanczos x1, decode + encode of every frame) on generated
              1280x720 clips of two lengths, each in its own process: equal peaks = flat memory.
  steady      a real face (../shared/faces/ffhq-gt) glides on a known path with sensor noise; the real
              RetinaFace detects it in every frame. Landmark jitter and error against the true
              landmarks, and the frame-to-frame change of the aligned and restored face crops, with
              the landmark smoothing (restorers.pipelines.track) on and off.

    python -m benchmarks.bench_video --case steady [--json] [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
if (SHARED / "weights" / "hf-cache").is_dir():
    os.environ.setdefault("HF_HUB_CACHE", str(SHARED / "weights" / "hf-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from restorers.pipelines import face  # noqa: E402
from restorers.media import images, video_io as media
from restorers.pipelines.track import FaceTracker  # noqa: E402

CASES = ("throughput", "memory", "steady")
SIZE_480P = (854, 480)
STEADY_FACE = "00002.png"
STEADY_FPS = 25.0
MEMORY_SECONDS = (15, 60, 300)


# ----------------------------------------------------------------------------------------------------
# Steady faces


def steady_clip(photo: str | Path, count: int = 48, side: int = 256, noise: float = 4.0,
                seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of a face gliding on a known path (translation + gentle zoom) with Gaussian sensor noise,
    and the true 5 landmarks in every frame, (count, 5, 2).

    The truth: RetinaFace's landmarks on the clean source face, carried through each frame's known
    similarity transform (so the detector's own bias is not counted as jitter).
    """
    source = images.load_image(photo).rgb
    face_px = side * 0.55
    source = images.resize(source, (round(face_px), round(face_px)), "lanczos")
    clean = face.detect(np.pad(source, ((8, 8), (8, 8), (0, 0)), mode="edge"))
    if not clean:
        raise RuntimeError(f"no face found in {photo}")
    marks = clean[0].landmarks - 8.0
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    for i in range(count):
        t = i / STEADY_FPS
        zoom = 1.0 + 0.08 * np.sin(2 * np.pi * 0.3 * t)
        x = side * 0.22 + side * 0.10 * np.sin(2 * np.pi * 0.4 * t)
        y = side * 0.20 + side * 0.05 * np.cos(2 * np.pi * 0.25 * t)
        matrix = np.array([[zoom, 0.0, x], [0.0, zoom, y]])  # source -> frame
        warped = face.warp_affine(source, matrix, (side, side), padding_mode="border")
        noisy = warped.permute(1, 2, 0).numpy() + rng.normal(0, noise, (side, side, 3))
        frames.append(np.clip(np.round(noisy), 0, 255).astype(np.uint8))
        truth.append(marks * zoom + [x, y])
    return frames, np.array(truth)


def detect_all(frames: list[np.ndarray]) -> list[list[face.Face]]:
    detector = face.default_detector()
    return [detector.detect(frame) for frame in frames]


def track_landmarks(frames: list[np.ndarray], detections: list[list[face.Face]], smooth: bool,
                    fps: float = STEADY_FPS) -> np.ndarray:
    """The landmarks the video engine would align with (largest face), frame by frame: (count, 5, 2)."""
    tracker = FaceTracker(fps=fps, smooth=smooth)
    out = []
    for frame, found in zip(frames, detections):
        faces = tracker.update(frame, found)
        if not faces:
            raise RuntimeError("the face was lost in a frame")
        out.append(max(faces, key=lambda f: f.area).landmarks)
    return np.array(out)


def _crop_change(crops: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive crops, grey levels."""
    return float(np.mean([np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() for a, b in zip(crops, crops[1:])]))


def run_steady(quick: bool = False) -> dict[str, Any]:
    import torch

    from restorers.models import networks
    from restorers.pipelines import restorer as restorer_module
    from restorers.models.registry import get_spec
    from restorers.models.runtime import resolve_precision

    count = 16 if quick else 48
    frames, truth = steady_clip(SHARED / "faces" / "ffhq-gt" / STEADY_FACE, count=count)
    spec = get_spec("gpen-bfr-256")
    torch.manual_seed(0)
    device = torch.device("cpu")
    networks._cache[(spec.name, str(device))] = networks.prepare(networks.build_network(spec), device)
    restorer = restorer_module.FaceRestorer(spec, device, resolve_precision(device, "auto"))
    rows = {}
    detections = detect_all(frames)
    for smooth in (False, True):
        marks = track_landmarks(frames, detections, smooth)
        error = marks - truth
        aligned = [face.align_face(f, m, spec.input_size).crop for f, m in zip(frames, marks)]
        restored = [restorer.restore_crops(c[None])[0] for c in aligned]
        rows["on" if smooth else "off"] = {
            # Shake: the second difference of the error (a smooth motion, followed or lagged, has ~none).
            "jitter_px": float(np.abs(np.diff(error, n=2, axis=0)).mean()),
            "frame_to_frame_px": float(np.linalg.norm(np.diff(error, axis=0), axis=2).mean()),
            "error_px": float(np.linalg.norm(error, axis=2)[6:].mean()),
            "aligned_crop_change": _crop_change(aligned),
            "restored_crop_change": _crop_change(restored),
        }
    return {"case": "steady", "frames": count, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
            "face": STEADY_FACE, "fps": STEADY_FPS, "restorer": f"{spec.name} (random init)", **rows}


# ----------------------------------------------------------------------------------------------------
# Throughput


def clip_480p(path: Path, frames: int) -> Path:
    """The example's pan and zoom over two_portraits.jpg, rendered at 854x480 (no sound)."""
    sys.path.insert(0, str(REPO_ROOT / "examples"))
    import make_examples

    photo = images.load_image(REPO_ROOT / "examples" / "two_portraits.jpg").rgb
    saved = make_examples.CLIP_SIZE
    make_examples.CLIP_SIZE = SIZE_480P
    try:
        source = make_examples.clip_frames(photo)
    finally:
        make_examples.CLIP_SIZE = saved
    # Frames from the middle of the pan first: both faces are in view there.
    middle = len(source) // 2
    with media.VideoWriter(path, 25) as writer:
        for i in range(frames):
            writer.write(source[(middle + i) % len(source)])
    return path


def _fps(clip: Path, model: str, precision: str, frames: int, folder: Path, device: str) -> float:
    from restorers.pipelines.video import process_video

    for event in process_video(clip, folder / f"{model}-{precision}.mp4", model, scale=2, precision=precision,
                               device=device, max_frames=frames):
        pass
    return event.fps


def run_throughput(repeats: int = 3, quick: bool = False, models: list[str] | None = None) -> dict[str, Any]:
    import torch

    from restorers.models import networks
    from restorers.models.registry import get_spec
    from restorers.models.runtime import resolve_precision

    from restorers.models.runtime import pick_device

    device = pick_device()  # CUDA when a GPU is at hand
    fast = resolve_precision(device, "auto")
    # Few frames for the networks: on the loaded 2-core machine one 480p frame of general-x4v3 takes
    # over a minute. Each sample is a whole process_video run (decode, restore, encode).
    # Lanczos gets enough frames to spread ffmpeg's start and the encoder's flush (seconds on a loaded machine).
    plans = [("lanczos", 4 if quick else 96), ("realesr-general-x4v3", 1), ("gpen-bfr-512", 1 if quick else 2)]
    plans = [(m, n) for m, n in plans if not models or m in models]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = clip_480p(folder / "480p.mp4", max(n for _, n in plans))
        detector = face.default_detector()
        probe = next(media.read_frames(media.probe(clip)))
        faces = len(detector.detect(probe))
        for model, frames in plans:
            spec = get_spec(model)
            if spec.weights is not None:
                torch.manual_seed(0)
                networks._cache[(spec.name, str(device))] = networks.prepare(networks.build_network(spec), device)
            precisions = ["fp32"] if spec.family == "baseline" else ["fp32", fast]
            samples: dict[str, list[float]] = {p: [] for p in precisions}
            _fps(clip, model, precisions[-1], 1, folder, str(device))  # warm-up: first-call costs
            for _ in range(1 if quick else repeats):
                for precision in precisions:  # interleaved, so load changes hit both alike
                    samples[precision].append(_fps(clip, model, precision, frames, folder, str(device)))
            row = {"model": model, "frames": frames, "fp32_fps": statistics.median(samples["fp32"]),
                   "samples": samples}
            if len(precisions) > 1:
                row["fast_fps"] = statistics.median(samples[fast])
                row["speedup"] = row["fast_fps"] / row["fp32_fps"]
            rows.append(row)
    return {"case": "throughput", "input": f"{SIZE_480P[0]}x{SIZE_480P[1]}", "output": "x2", "fast_path": fast,
            "device": str(device),
            "faces_in_frame": faces, "rows": rows, "threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------------------------------
# Memory


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def long_clip(path: Path, seconds: float, size: tuple[int, int] = (1280, 720), fps: int = 25) -> Path:
    """A moving test pattern with a tone, generated by ffmpeg itself (fast, no frames in Python)."""
    subprocess.run([media.ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    return path


def memory_child(seconds: float) -> dict[str, Any]:
    """In its own process: process a generated 720p clip of `seconds`; peak RSS before and after."""
    from restorers.pipelines.video import process_video

    with tempfile.TemporaryDirectory() as tmp:
        clip = long_clip(Path(tmp) / "long.mp4", seconds)
        os.environ.setdefault("RESTORERS_MAX_VIDEO_SECONDS", "3600")
        os.environ.setdefault("RESTORERS_MAX_VIDEO_FRAMES", "200000")
        import restorers.pipelines.restorer  # noqa: F401 - count the engine's own import in the baseline

        before = _peak_rss_mib()
        start = time.perf_counter()
        for event in process_video(clip, Path(tmp) / "out.mp4", "lanczos", scale=1):
            pass
        wall = time.perf_counter() - start
        result = event.result
        return {"seconds": seconds, "frames": result.frames, "wall_s": wall, "fps": result.frames / wall,
                "rss_before_mib": before, "peak_rss_mib": _peak_rss_mib(), "audio": result.audio}


def run_memory(quick: bool = False) -> dict[str, Any]:
    rows = []
    for seconds in ((2, 6) if quick else MEMORY_SECONDS):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_video", "--memory-child", str(seconds)],
                              cwd=REPO_ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"seconds": seconds, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"case": "memory", "size": "1280x720", "model": "lanczos x1", "rows": rows}


# ----------------------------------------------------------------------------------------------------


def run_case(name: str, repeats: int = 3, quick: bool = False, models: list[str] | None = None) -> dict[str, Any]:
    if name == "throughput":
        return run_throughput(repeats, quick, models)
    if name == "memory":
        return run_memory(quick)
    if name == "steady":
        return run_steady(quick)
    raise SystemExit(f"unknown case '{name}'; known cases: {', '.join(CASES)}")


def markdown(rows: list[dict[str, Any]]) -> str:
    parts = []
    for r in rows:
        if r.get("error"):
            parts.append(f"- {r.get('case', '?')}: ERROR {r['error']}")
        elif r["case"] == "throughput":
            lines = [f"process_video on {r.get('device', 'cpu')} at {r['input']} → {r['output']} "
                     f"({r['faces_in_frame']} faces in view), "
                     f"frames per second, fp32 vs the fast path ({r['fast_path']}); random-init networks:", "",
                     "| model | frames | fp32 fps | fast fps | fast / fp32 |", "|---|---:|---:|---:|---:|"]
            for m in r["rows"]:
                fast = f"{m['fast_fps']:.3f}" if "fast_fps" in m else "—"
                ratio = f"{m['speedup']:.2f}x" if "speedup" in m else "—"
                lines.append(f"| {m['model']} | {m['frames']} | {m['fp32_fps']:.3f} | {fast} | {ratio} |")
            parts.append("\n".join(lines))
        elif r["case"] == "memory":
            lines = [f"Peak RSS of process_video ({r['model']}, {r['size']}, sound copied), one process per clip:", "",
                     "| clip | frames | wall (s) | fps | RSS before (MiB) | peak RSS (MiB) |",
                     "|---:|---:|---:|---:|---:|---:|"]
            for m in r["rows"]:
                if "error" in m:
                    lines.append(f"| {m['seconds']} s | ERROR {m['error']} | | | | |")
                    continue
                lines.append(f"| {m['seconds']} s | {m['frames']} | {m['wall_s']:.1f} | {m['fps']:.1f} | "
                             f"{m['rss_before_mib']:.0f} | {m['peak_rss_mib']:.0f} |")
            parts.append("\n".join(lines))
        elif r["case"] == "steady":
            lines = [f"{r['frames']} frames of {r['size']}, {r['face']} on a known path with noise, "
                     f"real RetinaFace; crops restored by {r['restorer']}:", "",
                     "| smoothing | jitter (px) | frame-to-frame wobble (px) | error vs truth (px) | "
                     "aligned crop change | restored crop change |", "|---|---:|---:|---:|---:|---:|"]
            for key in ("off", "on"):
                m = r[key]
                lines.append(f"| {key} | {m['jitter_px']:.3f} | {m['frame_to_frame_px']:.3f} | {m['error_px']:.3f} | "
                             f"{m['aligned_crop_change']:.2f} | {m['restored_crop_change']:.2f} |")
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--models", default=None, help="throughput: only these models (comma-separated)")
    parser.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child)))
        return
    if args.case is None:
        parser.error("give --case")
    result = run_case(args.case, args.repeats, args.quick, args.models.split(",") if args.models else None)
    print(json.dumps(result) if args.json else markdown([result]))


if __name__ == "__main__":
    main()
