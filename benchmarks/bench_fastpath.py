"""Which number format and compiler make each network fastest on this CPU, at what precision cost.

For every network at its real configuration, in one process (so the ratios share one machine state):

  fp32        channels_last weights and input, no autocast (the reference output)
  fast        the engine's fast path as restorers.runtime picked it before this study: bf16 autocast +
              channels_last
  bf16w       weights cast to bfloat16 once (model.to(bfloat16)), bf16 input, no autocast
  compile     torch.compile (inductor, CPU, freezing on) of the fp32 network; the first call's time is the
              compile cost
  int8        static int8 quantisation of the convolutions (torch.ao FX graph mode, x86 backend: oneDNN /
              fbgemm VNNI kernels), calibrated on the timed input; SR networks only (the face networks'
              modulated convolutions do not trace)
  int8dyn     dynamic int8 quantisation of the Linear layers (the face networks' style MLPs, CodeFormer's
              transformer)

Each variant's first call is reported apart (warm-up / compile), then the minimum of --repeats calls.
FLOPs are counted with torch.utils.flop_counter on the fp32 call; the machine's matmul and 3x3 conv rates
(fp32 and bf16) are measured in the same run, so "x floor" = seconds / (FLOPs / best fp32-or-bf16 rate).
PSNR: the variant's output against fp32's, mapped to [0, 1] and clamped there (as the engine's uint8 is).

    python -m benchmarks.bench_fastpath [--nets x4plus,srvgg,...] [--variants fp32,fast,...] [--repeats 3]
                                        [--json PATH] [--markdown]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
FIXTURES = SHARED / "weights" / "fixtures"
VARIANTS = ("fp32", "fast", "bf16w", "compile", "int8", "int8dyn")
SEED = 0


@dataclass
class Net:
    name: str
    module: nn.Module
    inputs: torch.Tensor
    call: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    value_range: tuple[float, float]
    weights: str  # "random" or the fixture file
    sr: bool


def _image(size: int, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = torch.stack([0.5 + 0.4 * torch.sin(7 * xx + 3 * yy), 0.5 + 0.4 * torch.cos(5 * yy - 2 * xx),
                       0.5 + 0.3 * torch.sin(9 * xx * yy)])[None]
    img = (img + 0.05 * torch.randn(img.shape, generator=torch.Generator().manual_seed(SEED))).clamp(0, 1)
    low, high = value_range
    return img * (high - low) + low


def _fixture_state(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("params_ema", "params"):
        if isinstance(state, dict) and key in state:
            return state[key]
    return state


def build(name: str, size: int | None) -> Net:
    from restorers.models import networks
    from restorers.models.registry import get_spec

    torch.manual_seed(SEED)
    first = lambda module, x: (lambda out: out[0] if isinstance(out, (tuple, list)) else out)(module(x))  # noqa: E731
    if name in ("x4plus", "x2plus", "srvgg", "animevideov3"):
        model = {"x4plus": "realesrgan-x4plus", "x2plus": "realesrgan-x2plus"}.get(name, "realesr-general-x4v3")
        spec = get_spec(model)
        config = dict(spec.config)
        weights = "random"
        fixture = {"x4plus": FIXTURES / "realesrgan-x4plus-from-ncnn.pth",
                   "animevideov3": FIXTURES / "realesr-animevideov3-unverified.pth"}.get(name)
        if name == "animevideov3":
            config["num_conv"] = 16
        net = spec.build(**config)
        if fixture is not None and fixture.exists():
            net.load_state_dict(_fixture_state(fixture), strict=True)
            weights = fixture.name
        default = {"x4plus": 64, "x2plus": 128}.get(name, 128)
        return Net(name, net.eval().requires_grad_(False), _image(size or default), first, (0.0, 1.0), weights, True)
    model = {"gpen512": "gpen-bfr-512", "gfpgan": "gfpgan-v1.4", "codeformer": "codeformer"}[name]
    spec = get_spec(model)
    net = networks.build_network(spec)
    call = first
    if spec.fidelity:
        call = lambda module, x: module(x, w=0.5, adain=True)[0]  # noqa: E731
    return Net(name, net, _image(size or 512, spec.value_range), call, spec.value_range, "random", False)


def psnr(ref: torch.Tensor, out: torch.Tensor, value_range: tuple[float, float]) -> float | None:
    low, high = value_range
    a = ((ref.float() - low) / (high - low)).clamp(0, 1).double()
    b = ((out.float() - low) / (high - low)).clamp(0, 1).double()
    mse = float((a - b).square().mean())
    return None if mse == 0 else round(10 * math.log10(1 / mse), 1)


def machine_rates(repeats: int = 3) -> dict[str, float]:
    """TFLOP/s of a 2048^2 matmul and a 3x3 64->64 conv at 128x128, fp32 and bf16 (best of `repeats`)."""
    rates: dict[str, float] = {}
    n = 2048
    conv = nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 64, 128, 128).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            c, xx = copy.deepcopy(conv).to(dtype), x.to(dtype)
            for key, fn, flops in ((f"matmul_{label}", lambda: a @ b, 2 * n**3),
                                   (f"conv_{label}", lambda: c(xx), 2 * 64 * 64 * 9 * 128 * 128)):
                fn()
                best = math.inf
                for _ in range(repeats):
                    start = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - start)
                rates[key] = round(flops / best / 1e12, 3)
    return rates


def count_flops(net: Net) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net.call(net.module, net.inputs)
    return int(counter.get_total_flops())


def _cl(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def make_variant(net: Net, variant: str) -> Callable[[], torch.Tensor]:
    """A no-argument function running `net` as `variant` (the expensive set-up, e.g. quantising, done here)."""
    from restorers.models import networks

    x = _cl(net.inputs)
    if variant in ("fp32", "fast", "compile"):
        module = networks.prepare(copy.deepcopy(net.module), torch.device("cpu"))
        if variant == "compile":
            import torch._inductor.config as inductor_config

            inductor_config.freezing = True  # constant-fold weights: lets inductor prepack oneDNN convs
            module = torch.compile(module)
        autocast = variant == "fast"

        def run() -> torch.Tensor:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return net.call(module, x).float()
        return run
    if variant == "bf16w":
        module = networks.prepare(copy.deepcopy(net.module), torch.device("cpu")).to(torch.bfloat16)
        xb = x.to(torch.bfloat16)

        def run_bf16() -> torch.Tensor:
            with torch.inference_mode():
                return net.call(module, xb).float()
        return run_bf16
    if variant == "int8dyn":
        from torch.ao.quantization import quantize_dynamic

        module = quantize_dynamic(copy.deepcopy(net.module), {nn.Linear}, dtype=torch.qint8)
        module = networks.prepare(module, torch.device("cpu"))

        def run_dyn() -> torch.Tensor:
            with torch.inference_mode():
                return net.call(module, x).float()
        return run_dyn
    if variant == "int8":
        if not net.sr:
            raise RuntimeError("static int8 is measured for the SR networks only")
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        torch.backends.quantized.engine = "x86"
        mapping = get_default_qconfig_mapping("x86")
        prepared = prepare_fx(copy.deepcopy(net.module), mapping, example_inputs=(net.inputs,))
        with torch.inference_mode():
            prepared(net.inputs)  # calibration
        module = convert_fx(prepared)

        def run_int8() -> torch.Tensor:
            with torch.inference_mode():
                return net.call(module, net.inputs).float()
        return run_int8
    raise ValueError(f"unknown variant {variant}")


def measure(net: Net, variants: list[str], repeats: int) -> list[dict[str, Any]]:
    """Set every variant up (timing set-up and first call), then time them in interleaved rounds.

    The machine is shared: interleaving puts each variant under the same load, and the minimum of the
    rounds is the figure least disturbed by other work.
    """
    rows: dict[str, dict[str, Any]] = {}
    runs: dict[str, Callable[[], torch.Tensor]] = {}
    outputs: dict[str, torch.Tensor] = {}
    for variant in variants:
        row: dict[str, Any] = {"net": net.name, "variant": variant}
        rows[variant] = row
        try:
            start = time.perf_counter()
            fn = make_variant(net, variant)
            row["setup_s"] = round(time.perf_counter() - start, 2)
            start = time.perf_counter()
            outputs[variant] = fn()
            row["first_s"] = round(time.perf_counter() - start, 3)
            runs[variant] = fn
            row["times"] = []
        except Exception as error:  # noqa: BLE001 - a variant that cannot run is a result too
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"
    order = list(runs)
    for round_index in range(repeats):
        for variant in order if round_index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            outputs[variant] = runs[variant]()
            rows[variant]["times"].append(round(time.perf_counter() - start, 4))
    reference = outputs.get("fp32")
    for variant, row in rows.items():
        if row.get("times"):
            row["min_s"] = min(row["times"])
        if variant in outputs and reference is not None:
            row["psnr_db"] = psnr(reference, outputs[variant], net.value_range)
        print(json.dumps(row), flush=True)
    runs.clear()
    torch._dynamo.reset()
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default="x4plus,x2plus,srvgg,animevideov3,gpen512,gfpgan,codeformer")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--size", type=int, default=None, help="input side for every net (default: per net)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="write all rows here")
    options = parser.parse_args()
    torch.manual_seed(SEED)
    report: dict[str, Any] = {"load_before": os.getloadavg(), "threads": torch.get_num_threads(),
                              "torch": torch.__version__, "rates_before": machine_rates()}
    print(json.dumps(report), flush=True)
    report["nets"] = []
    for name in options.nets.split(","):
        net = build(name, options.size)
        info = {"net": name, "input": list(net.inputs.shape), "weights": net.weights, "flops": count_flops(net)}
        print(json.dumps(info), flush=True)
        info["rows"] = measure(net, options.variants.split(","), options.repeats)
        report["nets"].append(info)
    report["rates_after"] = machine_rates()
    report["load_after"] = os.getloadavg()
    print(json.dumps({k: report[k] for k in ("rates_after", "load_after")}), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
