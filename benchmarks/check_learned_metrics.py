"""Check the learned scores against what they should say, with the real pinned weights (a one-off check).

    python benchmarks/check_learned_metrics.py identity ../shared/faces/ffhq-gt
        every face against a degraded copy of itself (same person) and against every other face (different
        people); fails unless the lowest same-person score beats the highest different-people score.
    python benchmarks/check_learned_metrics.py lpips ex_ref.png ex_p0.png ex_p1.png
        LPIPS-VGG of the reference implementation's example images (PerceptualSimilarity imgs/), whose
        official PyTorch values are 0.569 and 0.422 (as quoted with lpips-tensorflow's port); fails past 0.0015.

Both need the weights (about 730 MB together): the Hub, or RESTORERS_WEIGHTS_DIR holding the files named in
docs/metrics.md. Without them the script says which file is missing and exits with status 2.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restorers.analysis import parse_degradation  # noqa: E402
from restorers.analysis.metrics import match_size, metric_problem  # noqa: E402
from restorers.models.hub import WeightsError  # noqa: E402

LPIPS_EXPECTED = (0.569, 0.422)


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def check_identity(folder: Path, degradation: str) -> int:
    from restorers.analysis.identity import identity_similarity, load_network

    load_network()
    faces = [(p.name, _load(p)) for p in sorted(folder.glob("*.png"))]
    spec = parse_degradation(degradation)
    start = time.perf_counter()
    same = {name: identity_similarity(face, match_size(spec.apply(face, 0), face.shape)) for name, face in faces}
    different = {(a, b): identity_similarity(fa, fb) for (a, fa), (b, fb) in itertools.combinations(faces, 2)}
    seconds = time.perf_counter() - start
    for name, value in same.items():
        print(f"same person   {name} vs {degradation} copy: {value:.4f}")
    print(f"same person:      mean {np.mean(list(same.values())):.4f}, lowest {min(same.values()):.4f}")
    print(f"different people: mean {np.mean(list(different.values())):.4f}, highest {max(different.values()):.4f} "
          f"({len(different)} pairs)")
    print(f"{len(same) + len(different)} comparisons in {seconds:.1f} s")
    return 0 if min(same.values()) > max(different.values()) else 1


def check_lpips(ref: Path, p0: Path, p1: Path) -> int:
    from restorers.analysis.perceptual import lpips_vgg

    values = (lpips_vgg(_load(ref), _load(p0)), lpips_vgg(_load(ref), _load(p1)))
    for name, got, want in zip((p0.name, p1.name), values, LPIPS_EXPECTED):
        print(f"LPIPS-VGG {ref.name} <-> {name}: {got:.4f} (reference {want:.3f})")
    return 0 if all(abs(g - w) <= 0.0015 for g, w in zip(values, LPIPS_EXPECTED)) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    identity = sub.add_parser("identity")
    identity.add_argument("folder", type=Path)
    identity.add_argument("--degrade", default="downscale:4", help="how the same-person copy is degraded")
    lpips = sub.add_parser("lpips")
    lpips.add_argument("images", type=Path, nargs=3, metavar="IMAGE", help="ex_ref.png ex_p0.png ex_p1.png")
    args = parser.parse_args()
    problem = metric_problem(args.what)
    if problem:
        print(f"cannot check {args.what}: {problem}", file=sys.stderr)
        return 2
    try:
        return check_identity(args.folder, args.degrade) if args.what == "identity" else check_lpips(*args.images)
    except WeightsError as exc:
        print(f"cannot check {args.what}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
