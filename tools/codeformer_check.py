"""Check a CodeFormer implementation against the weightless golden cases in ../shared/golden/codeformer.

The cases store a seed instead of 376 MB of weights; the weights are rebuilt from the manifest's
ordered key list by the procedure in ../shared/golden/README.md ("Weight procedure (v1)").

    python tools/codeformer_check.py CASE_DIR MODULE CLASS TOL [--manifest PATH]
    python tools/codeformer_check.py ../shared/golden/codeformer restorers.models.archs.codeformer CodeFormer 1e-4

Every case_*.pt in CASE_DIR is run; `output`, `logits` and `lq_feat` must be within TOL and the chosen
codes (argmax of the logits) must equal `top_idx` exactly. Exit status 0 when all pass.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

# The SFT output convs whose random weights the procedure tempers by a further 0.1.
_TEMPERED = (".scale.2.weight", ".shift.2.weight")


def load_manifest(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def rebuild_state_dict(manifest: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    """The golden weights for `seed`: one seeded generator per key, fan-in scaled (procedure v1)."""
    state: dict[str, torch.Tensor] = {}
    for index, name, shape, dtype in manifest["ordered_keys"]:
        generator = torch.Generator().manual_seed(seed * 1000003 + index)
        if not dtype.startswith("torch.float"):
            state[name] = torch.zeros(shape, dtype=getattr(torch, dtype.split(".")[-1]))
            continue
        t = torch.randn(shape, generator=generator, dtype=torch.float32)
        if len(shape) >= 2:
            t = t * (1.0 / math.sqrt(math.prod(shape[1:])))
            if name.startswith("fuse_convs_dict.") and name.endswith(_TEMPERED):
                t = t * 0.1
        elif name.endswith("weight"):  # GroupNorm / LayerNorm scales
            t = 1.0 + 0.1 * t
        else:  # biases
            t = 0.1 * t
        state[name] = t
    return state


def check_case(net: torch.nn.Module, case: dict[str, Any], manifest: dict[str, Any], tol: float) -> dict[str, Any]:
    """Load the rebuilt weights into `net` (strict), run the case's call, and compare."""
    net.load_state_dict(rebuild_state_dict(manifest, int(case["seed"])), strict=True)
    net.eval()
    with torch.no_grad():
        returned = net(case["input"], w=case["w"], adain=case["adain"])
    out, logits = returned[0], returned[1]
    report = {
        "case": case["case"],
        "output": (out - case["output"]).abs().max().item(),
        "logits": (logits - case["logits"]).abs().max().item(),
        "codes_changed": int((logits.argmax(dim=2, keepdim=True) != case["top_idx"]).sum()),
    }
    if len(returned) > 2:
        report["lq_feat"] = (returned[2] - case["lq_feat"]).abs().max().item()
    report["passed"] = (
        report["codes_changed"] == 0 and all(report[k] <= tol for k in ("output", "logits", "lq_feat") if k in report)
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir")
    parser.add_argument("module")
    parser.add_argument("cls")
    parser.add_argument("tol", type=float)
    parser.add_argument("--manifest")
    args = parser.parse_args(argv)
    case_dir = Path(args.case_dir)
    manifest = load_manifest(args.manifest or case_dir / "manifest_codeformer.json")
    cls = getattr(importlib.import_module(args.module), args.cls)
    net = cls(**manifest["config"])
    ok = True
    for path in sorted(case_dir.glob("case_*.pt")):
        report = check_case(net, torch.load(path), manifest, args.tol)
        ok &= report["passed"]
        print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
