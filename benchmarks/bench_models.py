"""Latency, precision and peak memory of the networks, one case per process.

Trained weights are not needed to measure speed: every network is built at its real configuration
(the registry's, or the StyleGAN2-ADA paper256 manifest) and randomly initialised with
torch.manual_seed(0). A model case times (a) fp32 eager (contiguous memory, no autocast,
inference_mode) and (b) the project's fast path (channels_last weights and input, plus the autocast
that restorers.models.runtime picks: bf16 on CPUs with native support, fp16 on CUDA), alternating the two
after one warm-up each, and reports the medians, the speed-up and the PSNR between the two outputs.

Two pipeline cases go through the engine itself: "sr2048" (tiled Real-ESRGAN x4plus through
SRRestorer on a 2048x2048 input, time-boxed) and "faces" (detection, then the whole-photo GPEN-512
pipeline with all faces in one batch vs one face at a time). "env" describes torch and the CPU.

    python -m benchmarks.bench_models --list
    python -m benchmarks.bench_models --case realesrgan-x4plus@256 [--json] [--repeats 3] [--quick]

Each case prints one JSON object (--json) or a short summary. Peak RSS is the process's own
high-water mark (VmHWM); ru_maxrss is recorded too, but on Linux an exec'd child's ru_maxrss starts
at its parent's high-water mark, so it only agrees when the parent is small.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
# The only real weights offline are RetinaFace's, in ../shared's hub cache. huggingface_hub reads
# these once, at import, so they are set before restorers (and through it huggingface_hub) loads.
if (SHARED / "weights" / "hf-cache").is_dir():
    os.environ.setdefault("HF_HUB_CACHE", str(SHARED / "weights" / "hf-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from restorers.media import images  # noqa: E402
from restorers.models import networks
from restorers.pipelines import restorer as restorer_module  # noqa: E402
from restorers.models.registry import ModelSpec, get_spec  # noqa: E402
from restorers.models.runtime import cpu_supports_bf16, inference, keep_freed_memory, resolve_precision  # noqa: E402
from restorers.pipelines.tiling import network_context, tiled_apply  # noqa: E402

SEED = 0
LONG_CALL_S = 20.0  # a warm-up longer than this also counts as a sample (first-call overhead is < 1 s)
STYLEGAN_MANIFEST = SHARED / "golden" / "stylegan2_ada" / "manifest_ffhq256-paper256.json"
# stylegan2-ada-pytorch's published 'paper256' configuration (train.py cfg_specs), used when the
# manifest above is not at hand.
STYLEGAN_PAPER256 = dict(
    z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs=dict(num_layers=8),
    synthesis_kwargs=dict(channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256),
)
# Whole-photo candidates, in order of preference; the first with 3+ faces is used.
FACE_PHOTOS = ("gfpgan-whole/10045.png", "realesrgan-inputs/children-alpha.png", "gfpgan-whole/00.jpg")
QUICK_FACE_PHOTO = "realesrgan-inputs/children-alpha.png"
GROUP_PHOTO = "gpen-group/Solvay_conference_1927.png"
SR2048_SIZE = 2048
MAX_FACE_BATCH = 8  # the batched variant puts all faces in one call, up to this many


@dataclass(frozen=True)
class Case:
    """One network at one input size. size: input side (SR, face) or output resolution (generator)."""

    name: str
    model: str  # registry name, or "stylegan2-ada"
    size: int
    tile: int = 0  # 0: one piece; else restorers.pipelines.tiling.tiled_apply with this tile
    quick_size: int | None = None  # input size under --quick; None: not run under --quick


CASES: tuple[Case, ...] = (
    Case("realesrgan-x4plus@256", "realesrgan-x4plus", 256),
    Case("realesrgan-x4plus@512", "realesrgan-x4plus", 512, tile=restorer_module.DEFAULT_TILE),
    Case("realesrgan-x2plus@256", "realesrgan-x2plus", 256),
    Case("realesr-general-x4v3@256", "realesr-general-x4v3", 256, quick_size=32),
    Case("realesr-general-x4v3@512", "realesr-general-x4v3", 512),
    Case("gpen-bfr-512", "gpen-bfr-512", 512),
    Case("gpen-bfr-256", "gpen-bfr-256", 256),
    Case("gfpgan-v1.4", "gfpgan-v1.4", 512),
    Case("codeformer", "codeformer", 512),
    Case("stylegan2-ada-256", "stylegan2-ada", 256),
)
PIPELINE_CASES = ("sr2048", "faces", "env")


def get_case(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    known = ", ".join([c.name for c in CASES] + list(PIPELINE_CASES))
    raise SystemExit(f"unknown case '{name}'; known cases: {known}")


# ----------------------------------------------------------------------------------------------------
# Process facts


def peak_rss_mib() -> dict[str, float]:
    """This process's peak resident set: VmHWM (its own address space) and ru_maxrss, in MiB."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    hwm = maxrss  # where /proc is missing
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return {"peak_rss_mib": hwm, "ru_maxrss_mib": maxrss}


def environment() -> dict[str, Any]:
    """torch build, threads, the precision the fast path uses here, and the model cases."""
    device = torch.device("cpu")
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16": cpu_supports_bf16(),
        "fast_precision_cpu": resolve_precision(device, "auto"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": sys.version.split()[0],
        "cases": case_names(),
        "quick_cases": case_names(quick=True),
    }


# ----------------------------------------------------------------------------------------------------
# Building subjects


@dataclass
class Subject:
    """A network ready to time: module, input, how the engine calls it, and its output value range."""

    net: nn.Module
    inputs: torch.Tensor
    call: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    value_range: tuple[float, float]
    path: str  # how the case runs, for the table


def sample_image(size: int, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """A deterministic 1x3xSxS image with smooth structure and some texture (speed ignores content)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    red = 0.5 + 0.4 * torch.sin(7 * xx + 3 * yy)
    green = 0.5 + 0.4 * torch.cos(5 * yy - 2 * xx)
    blue = 0.5 + 0.3 * torch.sin(9 * xx * yy)
    image = torch.stack([red, green, blue])[None]
    image = image + 0.05 * torch.randn(image.shape, generator=torch.Generator().manual_seed(SEED))
    low, high = value_range
    return image.clamp(0, 1) * (high - low) + low


def _first(out: Any) -> torch.Tensor:
    """The image of a network's output (GPEN and GFPGAN return tuples)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _stylegan_config(resolution: int) -> dict[str, Any]:
    config = STYLEGAN_PAPER256
    if STYLEGAN_MANIFEST.exists():
        config = json.loads(STYLEGAN_MANIFEST.read_text())["config"]
    return dict(copy.deepcopy(config), img_resolution=resolution)


def _sr_subject(spec: ModelSpec, size: int, tile: int) -> Subject:
    net = networks.build_network(spec)
    multiple = int(getattr(net, "input_multiple", 1))  # x2plus pixel-unshuffles its input
    overlap = restorer_module.TILE_OVERLAP
    context = network_context(net)

    def call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return tiled_apply(module, x, spec.scale, tile, overlap, multiple, context)

    path = f"tiled {tile} (overlap {overlap}, context {context})" if tile else "one piece"
    return Subject(net, sample_image(size), call, (0.0, 1.0), path)


def _face_subject(spec: ModelSpec, size: int) -> Subject:
    if spec.fidelity:  # CodeFormer, as FaceRestorer calls it: the default w, AdaIN on, image first
        from restorers.pipelines.restorer import DEFAULT_FIDELITY

        return Subject(networks.build_network(spec), sample_image(size, spec.value_range),
                       lambda module, x: module(x, w=DEFAULT_FIDELITY, adain=True)[0], spec.value_range,
                       f"one face, w={DEFAULT_FIDELITY:g}")
    # As FaceRestorer calls it without a seed: net(x), image first in the returned tuple.
    return Subject(networks.build_network(spec), sample_image(size, spec.value_range),
                   lambda module, x: _first(module(x)), spec.value_range, "one face")


def _stylegan_subject(resolution: int) -> Subject:
    from restorers.models.archs.stylegan2_ada import Generator

    generator = Generator(**_stylegan_config(resolution)).eval().requires_grad_(False)
    with torch.inference_mode():  # mapping runs in fp32 on both paths, as render_latent_walk does
        z = torch.randn([1, generator.z_dim], generator=torch.Generator().manual_seed(SEED))
        ws = generator.mapping(z, None).clone()
    return Subject(generator.synthesis, ws, lambda module, w: module(w, noise_mode="const"), (-1.0, 1.0),
                   "synthesis of 1 frame")


def build_subject(case: Case, size: int) -> Subject:
    """The random-init network of `case` at `size`, with its input and calling convention."""
    torch.manual_seed(SEED)
    if case.model == "stylegan2-ada":
        return _stylegan_subject(size)
    spec = get_spec(case.model)
    if spec.family == "sr":
        return _sr_subject(spec, size, case.tile)
    return _face_subject(spec, size)


def fast_copy(net: nn.Module, device: torch.device) -> nn.Module:
    """A copy of `net` prepared as the engine prepares it (restorers.models.networks.prepare: channels_last)."""
    return networks.prepare(copy.deepcopy(net), device)


def _as_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


# ----------------------------------------------------------------------------------------------------
# Timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def psnr_db(a: torch.Tensor, b: torch.Tensor, value_range: tuple[float, float], clamp: bool = True) -> float | None:
    """PSNR of b against a, both mapped to [0, 1] from value_range (and clamped there, as the engine's
    uint8 output is, unless ``clamp`` is False); None if identical."""
    low, high = value_range
    a01 = ((a.detach().float().cpu() - low) / (high - low)).double()
    b01 = ((b.detach().float().cpu() - low) / (high - low)).double()
    if clamp:
        a01, b01 = a01.clamp(0, 1), b01.clamp(0, 1)
    mse = float((a01 - b01).square().mean())
    return None if mse == 0 else 10 * math.log10(1.0 / mse)


def compare(
    variants: dict[str, Callable[[], Any]],
    device: torch.device,
    repeats: int,
    budget_s: float,
    warmup: bool = True,
) -> tuple[dict[str, list[float]], dict[str, float | None], dict[str, Any]]:
    """Time each variant: one warm-up each, then up to `repeats` rounds, alternating the order.

    Rounds stop early once `budget_s` has been spent (at least one sample each). A warm-up longer
    than LONG_CALL_S is kept as a sample. Returns samples, warm-up times and the last outputs.
    """
    samples: dict[str, list[float]] = {name: [] for name in variants}
    warmups: dict[str, float | None] = {name: None for name in variants}
    outputs: dict[str, Any] = {}
    start = time.perf_counter()
    if warmup:
        for name, fn in variants.items():
            seconds, outputs[name] = _timed(fn, device)
            warmups[name] = seconds
            if seconds > LONG_CALL_S:
                samples[name].append(seconds)
    names = list(variants)
    for round_index in range(repeats):
        if all(samples.values()) and time.perf_counter() - start > budget_s:
            break
        for name in names if round_index % 2 == 0 else names[::-1]:
            if len(samples[name]) < repeats:
                seconds, outputs[name] = _timed(variants[name], device)
                samples[name].append(seconds)
    return samples, warmups, outputs


def run_model_case(case: Case, repeats: int = 3, quick: bool = False, budget_s: float = 300.0,
                   device: str = "cpu") -> dict[str, Any]:
    """fp32 eager vs the fast path for one case; see the module docstring."""
    size = case.quick_size if quick and case.quick_size else case.size
    target = torch.device(device)
    subject = build_subject(case, size)
    precision = resolve_precision(target, "auto")
    eager_net = subject.net.to(target)
    fast_net = fast_copy(subject.net, target)
    x_eager = subject.inputs.to(target).contiguous()
    x_fast = _as_channels_last(subject.inputs.to(target))
    # As the engine does at its first restorer (what a user gets); RESTORERS_MALLOC_TUNING=0 measures without.
    malloc_tuned = keep_freed_memory()
    faults: dict[str, list[int]] = {"fp32": [], "fast": []}

    def counted(name: str, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        out = fn()
        faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return out

    def eager() -> torch.Tensor:
        with inference(target, "fp32"):
            return counted("fp32", lambda: subject.call(eager_net, x_eager).float())

    def fast() -> torch.Tensor:
        with inference(target, precision):
            return counted("fast", lambda: subject.call(fast_net, x_fast).float())

    samples, warmups, outputs = compare({"fp32": eager, "fast": fast}, target, repeats, budget_s, warmup=not quick)
    fp32_s, fast_s = statistics.median(samples["fp32"]), statistics.median(samples["fast"])
    return {
        "case": case.name,
        "model": case.model,
        "input": "x".join(str(d) for d in subject.inputs.shape),
        "output": "x".join(str(d) for d in outputs["fp32"].shape),
        "path": subject.path,
        "fast_path": f"{precision} autocast + channels_last" if precision != "fp32" else "channels_last",
        "params_m": sum(p.numel() for p in subject.net.parameters()) / 1e6,
        "fp32_s": fp32_s,
        "fast_s": fast_s,
        "speedup": fp32_s / fast_s,
        "psnr_db": psnr_db(outputs["fp32"], outputs["fast"], subject.value_range),
        "psnr_unclamped_db": psnr_db(outputs["fp32"], outputs["fast"], subject.value_range, clamp=False),
        "malloc_tuned": malloc_tuned,
        # Minor page faults per timed call (warm-up excluded): freed memory returned to the OS and re-faulted.
        "fp32_faults": faults["fp32"][1:] if len(faults["fp32"]) > 1 else faults["fp32"],
        "fast_faults": faults["fast"][1:] if len(faults["fast"]) > 1 else faults["fast"],
        "fp32_samples": samples["fp32"],
        "fast_samples": samples["fast"],
        "warmup_fp32_s": warmups["fp32"],
        "warmup_fast_s": warmups["fast"],
        "quick": quick,
        "weights": f"random init (torch.manual_seed({SEED}))",
        "threads": torch.get_num_threads(),
        **peak_rss_mib(),
    }


# ----------------------------------------------------------------------------------------------------
# Engine pipelines


def install_random_network(spec: ModelSpec, net: nn.Module, device: torch.device) -> None:
    """Put `net` in the engine's network cache, so restorers use it instead of loading weights."""
    networks._cache[(spec.name, str(device))] = net


class TimeBoxedNetwork(nn.Module):
    """Wraps an SR network: times each tile, and once `time_box_s` has passed since the first tile,
    stands in a nearest-neighbour upscale, so the rest of the engine's path (stitching, uint8
    conversion) still runs and its memory still counts. The first tile always runs."""

    def __init__(self, net: nn.Module, scale: int, time_box_s: float) -> None:
        super().__init__()
        self.net = net
        self.scale = scale
        self.time_box_s = time_box_s
        self.deadline: float | None = None
        self.input_multiple = int(getattr(net, "input_multiple", 1))
        self.tile_context = network_context(net)
        self.tile_seconds: list[float] = []
        self.run_pixels = 0
        self.skipped_pixels = 0
        self.skipped = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[-2] * x.shape[-1]
        if self.deadline is None:
            self.deadline = time.perf_counter() + self.time_box_s
        elif time.perf_counter() > self.deadline:
            self.skipped += 1
            self.skipped_pixels += pixels
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        start = time.perf_counter()
        out = self.net(x)
        self.tile_seconds.append(time.perf_counter() - start)
        self.run_pixels += pixels
        return out


def run_sr2048(time_box_s: float = 600.0, device: str = "cpu", size: int = SR2048_SIZE) -> dict[str, Any]:
    """Real-ESRGAN x4plus (random init) on a size x size photo through SRRestorer on the fast path."""
    target = torch.device(device)
    spec = get_spec("realesrgan-x4plus")
    torch.manual_seed(SEED)
    precision = resolve_precision(target, "auto")
    rgb = images.from_tensor(sample_image(size))[0]
    boxed = TimeBoxedNetwork(networks.prepare(networks.build_network(spec), target), spec.scale, time_box_s)
    install_random_network(spec, boxed, target)
    sr = restorer_module.SRRestorer(spec, target, precision)
    begin = time.perf_counter()
    out = sr.upscale(rgb)
    wall = time.perf_counter() - begin
    tiles = len(boxed.tile_seconds) + boxed.skipped
    net_s = sum(boxed.tile_seconds)
    per_pixel = net_s / boxed.run_pixels  # the first tile always runs
    rss = peak_rss_mib()
    return {
        "case": "sr2048",
        "input": f"{size}x{size}",
        "output": f"{out.shape[1]}x{out.shape[0]}",
        "fast_path": f"{precision} autocast + channels_last",
        "tile": restorer_module.DEFAULT_TILE,
        "overlap": restorer_module.TILE_OVERLAP,
        "context": boxed.tile_context,
        "tiles": tiles,
        "tiles_run": len(boxed.tile_seconds),
        "time_box_s": time_box_s,
        "wall_s": wall,
        "net_s": net_s,
        "tile_s_median": statistics.median(boxed.tile_seconds) if boxed.tile_seconds else None,
        # Tiles cut by the time box are costed at the measured seconds per input pixel.
        "estimated_full_s": wall + boxed.skipped_pixels * per_pixel,
        "complete": boxed.skipped == 0,
        "within_4gb": rss["peak_rss_mib"] < 4096,
        "weights": f"random init (torch.manual_seed({SEED}))",
        **rss,
    }


class StandInFaceNet(nn.Module):
    """--quick only: returns its input, so the pipeline runs without a real network's cost."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0


@contextlib.contextmanager
def face_batch(size: int) -> Iterator[None]:
    """Faces per network call, through the engine's $RESTORERS_FACE_BATCH (read at call time)."""
    name = restorer_module.FACE_BATCH_ENV
    saved = os.environ.get(name)
    os.environ[name] = str(size)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _load_rgb(relative: str) -> Any:
    return images.load_image(SHARED / "faces" / relative).rgb


def _half(rgb: Any) -> Any:
    return images.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), "lanczos")


def _pick_face_photo(detector: Any) -> tuple[str, Any, int]:
    """The first of FACE_PHOTOS with 3+ faces (else the first found), its pixels and face count."""
    best: tuple[str, Any, int] | None = None
    for relative in FACE_PHOTOS:
        if not (SHARED / "faces" / relative).exists():
            continue
        rgb = _load_rgb(relative)
        found = len(detector.detect(rgb))
        if found >= 3:
            return relative, rgb, found
        best = best or (relative, rgb, found)
    if best is None:
        raise FileNotFoundError(f"none of {FACE_PHOTOS} under {SHARED / 'faces'}")
    return best


def run_faces(repeats: int = 3, quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Detection times, and the whole-photo GPEN-512 pipeline with all faces in one batch vs one at a time."""
    from restorers.pipelines import face

    target = torch.device(device)
    precision = resolve_precision(target, "auto")
    detector = face.default_detector(str(target))  # what restore_faces uses
    if quick:  # a smoke test: a half-size photo keeps it to seconds; the group photo stays full size, since
        # its ~35 px faces halved score below the 0.97 detection threshold (detection is cheap anyway)
        relative, rgb, group = QUICK_FACE_PHOTO, _half(_load_rgb(QUICK_FACE_PHOTO)), _load_rgb(GROUP_PHOTO)
        found = len(detector.detect(rgb))
    else:
        relative, rgb, found = _pick_face_photo(detector)
        group = _load_rgb(GROUP_PHOTO)
    detections, _, found_by = compare(
        {"photo": lambda: detector.detect(rgb), "group": lambda: detector.detect(group)},
        target, repeats, budget_s=60.0, warmup=not quick,
    )

    spec = get_spec("gpen-bfr-512")
    torch.manual_seed(SEED)
    if quick:
        net: nn.Module = StandInFaceNet()
        model = "identity stand-in (--quick)"
    else:
        net = networks.prepare(networks.build_network(spec), target)
        model = f"{spec.name} (random init)"
    install_random_network(spec, net, target)
    restorer = restorer_module.FaceRestorer(spec, target, precision)

    batch = min(found, MAX_FACE_BATCH)

    def batched() -> Any:
        with face_batch(batch):
            return restorer.run(rgb)

    def sequential() -> Any:
        with face_batch(1):
            return restorer.run(rgb)

    pipeline, _, results = compare(
        {"batched": batched, "sequential": sequential}, target, repeats, budget_s=600.0, warmup=not quick,
    )
    batched_s, sequential_s = statistics.median(pipeline["batched"]), statistics.median(pipeline["sequential"])
    return {
        "case": "faces",
        "photo": relative,
        "photo_size": f"{rgb.shape[1]}x{rgb.shape[0]}",
        "faces_found": found,
        "faces_restored": len(results["batched"].faces),
        "face_batch": batch,
        "engine_face_batch": restorer_module.face_batch_size(target),  # what the engine uses here
        "model": model,
        "fast_path": f"{precision} autocast + channels_last",
        "detect_s": statistics.median(detections["photo"]),
        "detect_samples": detections["photo"],
        "batched_s": batched_s,
        "sequential_s": sequential_s,
        "sequential_over_batched": sequential_s / batched_s,
        "batched_samples": pipeline["batched"],
        "sequential_samples": pipeline["sequential"],
        "output": f"{results['batched'].image.shape[1]}x{results['batched'].image.shape[0]}",
        "group_photo": GROUP_PHOTO,
        "group_size": f"{group.shape[1]}x{group.shape[0]}",
        "group_faces": len(found_by["group"]),
        "group_detect_s": statistics.median(detections["group"]),
        "group_detect_samples": detections["group"],
        "quick": quick,
        **peak_rss_mib(),
    }


# ----------------------------------------------------------------------------------------------------
# Command line


def run_case(name: str, repeats: int = 3, quick: bool = False, budget_s: float = 300.0,
             time_box_s: float = 600.0, device: str = "cpu") -> dict[str, Any]:
    """Run one named case in this process and return its raw numbers."""
    if name == "env":
        return environment()
    if name == "sr2048":
        return run_sr2048(time_box_s, device)
    if name == "faces":
        return run_faces(repeats, quick, device)
    return run_model_case(get_case(name), repeats, quick, budget_s, device)


def case_names(quick: bool = False) -> list[str]:
    """The model cases, in table order (those with a quick size under --quick)."""
    return [c.name for c in CASES if not quick or c.quick_size]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help="a model case, or sr2048 / faces / env")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--json", action="store_true", help="print the raw numbers as one JSON object")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny inputs (a smoke test, not a measurement)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds after which repeats stop")
    parser.add_argument("--time-box", type=float, default=600.0, help="sr2048: seconds of network time")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.list or not args.case:
        print("\n".join(case_names() + list(PIPELINE_CASES)))
        return
    result = run_case(args.case, args.repeats, args.quick, args.budget, args.time_box, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
