"""Check restorers' NIQE against the MATLAB release's published scores (a one-off check, not a test).

The five distorted TID2013 images that IQA-PyTorch (pyiqa) uses to calibrate its metrics ship inside its
wheel, and its ResultsCalibra table lists what the authors' MATLAB NIQE gives for them (rgb2gray input).
Neither the images nor pyiqa are dependencies of this project, so fetch the wheel once:

    pip download --no-deps -d /tmp/pyiqa pyiqa && unzip -q /tmp/pyiqa/pyiqa-*.whl -d /tmp/pyiqa/x
    python benchmarks/check_niqe_reference.py /tmp/pyiqa/x/ResultsCalibra/dist_dir

Exit status 1 when any score is more than --tolerance (relative) away from MATLAB's.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restorers.analysis.niqe import load_pristine_model, niqe  # noqa: E402

# ResultsCalibra/results_original.csv of chaofengc/IQA-PyTorch, row "niqe" (MATLAB niqe_release).
MATLAB = {"I03.bmp": 15.7536293917814, "I04.bmp": 3.65492152353770, "I06.bmp": 3.23547743716998,
          "I08.bmp": 3.18403333858339, "I19.bmp": 8.63519663862637}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="pyiqa's ResultsCalibra/dist_dir")
    parser.add_argument("--model", type=Path, default=None,
                        help="another pristine model file (.mat from the release, or BasicSR's .npz)")
    parser.add_argument("--tolerance", type=float, default=0.01, help="largest relative difference allowed")
    args = parser.parse_args()
    model = load_pristine_model(args.model)
    worst = 0.0
    print(f"{'image':8} {'restorers':>10} {'MATLAB':>10} {'relative':>9} {'ms':>5}")
    for name, expected in MATLAB.items():
        image = np.asarray(Image.open(args.folder / name).convert("RGB"))
        start = time.perf_counter()
        got = niqe(image, model)
        ms = (time.perf_counter() - start) * 1000
        relative = abs(got - expected) / expected
        worst = max(worst, relative)
        print(f"{name:8} {got:10.6f} {expected:10.6f} {relative:9.2e} {ms:5.0f}")
    print(f"largest relative difference {worst:.2e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
