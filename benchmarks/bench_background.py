"""Which background upsampler should whole-photo mode use by default? Quality against Lanczos and time.

Quality is measured on real trained networks that are available offline (../shared/weights/fixtures):
Real-ESRGAN x4plus (RRDBNet, converted from its ncnn release) and a trained SRVGGNetCompact (16 convs,
the animevideov3 layout; realesr-general-x4v3 is the same architecture with 32 convs). Each clean FFHQ
face (../shared/faces/ffhq-gt) is shrunk to ``--size``, then halved with bicubic + JPEG q75 (an old
photo's background), and brought back x2 the way whole-photo mode does it (network x4, then Lanczos to
x2). Reported per upsampler: PSNR to the clean image, and sharpness = mean Sobel gradient magnitude as
a fraction of the clean image's (Lanczos leaves it well under 1; a background that looks restored is
close to 1).

Time: seconds per input megapixel through SRRestorer.upscale at ``--side`` (256) px on this machine's fast path,
for both fixtures and for general-x4v3's own architecture (random weights: speed does not depend on
weight values), medians of ``--repeats`` interleaved runs.

    python -m benchmarks.bench_background [--images 5] [--size 384] [--repeats 3] [--side 256]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
FIXTURES = SHARED / "weights" / "fixtures"
X4PLUS = FIXTURES / "realesrgan-x4plus-from-ncnn.pth"
SRVGG16 = FIXTURES / "realesr-animevideov3-unverified.pth"


def degrade(gt: np.ndarray) -> np.ndarray:
    """Half size with bicubic, then JPEG at quality 75: an old photo's background."""
    small = Image.fromarray(gt).resize((gt.shape[1] // 2, gt.shape[0] // 2), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=75)
    return np.asarray(Image.open(buffer).convert("RGB"))


def sharpness(rgb: np.ndarray) -> float:
    gray = rgb.astype(np.float32).mean(axis=2)
    return float(np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1)).mean())


def upsamplers() -> dict[str, object]:
    """name -> callable(rgb, scale) -> rgb, for Lanczos and each trained fixture."""
    import restorers
    from restorers.media import images

    found: dict[str, object] = {
        "lanczos": lambda rgb, s: images.resize(rgb, images.scaled_size(rgb.shape[1], rgb.shape[0], s), "lanczos"),
    }
    for name, path in (("x4plus (RRDB, real weights)", X4PLUS), ("SRVGG-16 (trained fixture)", SRVGG16)):
        if path.is_file():
            restorer = restorers.load_checkpoint(path)
            found[name] = lambda rgb, s, r=restorer: r.upscale(rgb, s)
    return found


def quality(count: int, size: int) -> dict[str, dict[str, float]]:
    from restorers.analysis.metrics import psnr

    photos = sorted((SHARED / "faces" / "ffhq-gt").glob("*.png"))[:count]
    if not photos:
        raise SystemExit(f"no ground-truth faces under {SHARED / 'faces' / 'ffhq-gt'}")
    scores: dict[str, dict[str, list[float]]] = {}
    for photo in photos:
        gt = np.asarray(Image.open(photo).convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
        low = degrade(gt)
        reference = sharpness(gt)
        for name, upscale in upsamplers().items():
            out = upscale(low, 2.0)  # type: ignore[operator]
            entry = scores.setdefault(name, {"psnr": [], "sharpness": []})
            entry["psnr"].append(psnr(gt, out))
            entry["sharpness"].append(sharpness(out) / reference)
    return {name: {k: round(statistics.mean(v), 3) for k, v in entry.items()} for name, entry in scores.items()}


def timing(repeats: int, side: int = 256) -> dict[str, float]:
    """Seconds per input megapixel of each upsampler at side x side (warm: one untimed run first)."""
    import restorers
    from restorers.models.networks import build_network, prepare
    from restorers.pipelines.restorer import SRRestorer

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    runs = upsamplers()
    general = SRRestorer(restorers.get_spec("realesr-general-x4v3"), restorers.load("lanczos").device,
                         restorers.load("lanczos").precision)
    # The real general-x4v3 file is not available offline: its architecture with random weights, cached
    # under its own name so SRRestorer finds it.
    from restorers.models import networks

    net = prepare(build_network(general.spec), general.device)
    networks._cache[(general.spec.name, str(general.device))] = net
    runs["general-x4v3 (SRVGG-32, random weights)"] = lambda x, s: general.upscale(x, s)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, fn in runs.items():
        fn(rgb, 2.0)  # type: ignore[operator]
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn(rgb, 2.0)  # type: ignore[operator]
            times[name].append(time.perf_counter() - start)
    mp = side * side / 1e6
    return {name: round(statistics.median(v) / mp, 2) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side", type=int, default=256, help="input side for the timing")
    args = parser.parse_args()
    result = {"load_average": os.getloadavg()[0], "quality": quality(args.images, args.size),
              "seconds_per_input_mp": timing(args.repeats, args.side)}
    result["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
