"""StyleGAN2-ADA generator and its safe network-pickle loader, checked against the golden vectors.

The golden cases were produced by NVlabs/stylegan2-ada-pytorch itself (CPU, float32); see
../shared/golden/README.md. An exact re-implementation differs only by float rounding (~1e-6).
"""
from __future__ import annotations

import builtins
import dataclasses
import json
import math
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from restorers.models.archs.stylegan2_ada import Generator, conv2d_resample, setup_filter, upfirdn2d_up
from restorers.models.stylegan_pickle import (
    PersistentRecord,
    UnsafePickleError,
    generator_from_record,
    load_stylegan2_ada_pickle,
    read_network_pickle,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-4
CASES = ["case_ada_small.pt", "case_ada_small_clamp.pt"]


def _case(golden_dir: Path, name: str) -> dict:
    return torch.load(golden_dir / "stylegan2_ada" / name)


def _generator(case: dict) -> Generator:
    generator = Generator(**case["config"]).eval()
    generator.load_state_dict(case["state_dict"], strict=True)
    return generator


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.float() - b.float()).abs().max().item()


# ---------------------------------------------------------------------------------------------
# Architecture: key layout of the real checkpoints
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("manifest", ["manifest_ffhq256-paper256.json", "manifest_ffhq1024-stylegan2.json"])
def test_state_dict_layout_matches_official_g_ema(golden_dir: Path, manifest: str) -> None:
    info = json.loads((golden_dir / "stylegan2_ada" / manifest).read_text())
    with torch.device("meta"):  # shapes only: no memory, no random init
        generator = Generator(**info["config"])
    state = generator.state_dict()
    assert list(state) == list(info["keys"])  # same names, same order
    assert {k: list(v.shape) for k, v in state.items()} == info["keys"]
    assert sorted(name for name, _ in generator.named_buffers()) == sorted(info["buffers"])
    assert sum(p.numel() for p in generator.parameters()) == info["num_params"]
    assert sum(t.numel() for t in state.values()) == info["num_state_dict_elements"]
    assert generator.num_ws == info["num_ws"]
    assert generator.synthesis.block_resolutions == info["block_resolutions"]
    zeros = {k: torch.zeros(v) for k, v in info["keys"].items()}
    generator.load_state_dict(zeros, strict=True, assign=True)


def test_other_architectures_build_and_run() -> None:
    kwargs = dict(z_dim=16, c_dim=4, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2})
    resnet = Generator(**kwargs, synthesis_kwargs={"channel_base": 256, "channel_max": 16, "architecture": "resnet"})
    orig = Generator(**kwargs, synthesis_kwargs={"channel_base": 256, "channel_max": 16, "architecture": "orig"})
    assert "synthesis.b8.skip.weight" in resnet.state_dict() and "mapping.embed.weight" in resnet.state_dict()
    assert [k for k in orig.state_dict() if "torgb" in k][0].startswith("synthesis.b16.torgb")
    assert resnet.num_ws == orig.num_ws == 6
    c = F.one_hot(torch.tensor([1, 3]), 4).float()
    with torch.inference_mode():
        for generator in (resnet.eval(), orig.eval()):
            out = generator(torch.randn(2, 16), c, truncation_psi=0.5, truncation_cutoff=2)
            assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()


# ---------------------------------------------------------------------------------------------
# Resampling ops against a literal implementation of the reference semantics
# ---------------------------------------------------------------------------------------------

def _naive_upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int, pad: list[int], gain: float) -> torch.Tensor:
    """Zero insertion, pad (negative = crop), then convolution with f: torch_utils' 'ref' path."""
    n, c, h, w = x.shape
    stuffed = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    stuffed[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    stuffed = F.pad(stuffed, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    rows = slice(max(-py0, 0), stuffed.shape[2] - max(-py1, 0))
    cols = slice(max(-px0, 0), stuffed.shape[3] - max(-px1, 0))
    stuffed = stuffed[:, :, rows, cols]
    kernel = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(stuffed, kernel, groups=c)


@pytest.mark.parametrize("taps", [[1, 3, 3, 1], [1, 2, 1], [1, 1], [1, 4, 6, 4, 1]])
@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("pad", [[2, 1, 2, 1], [1, 1, 1, 1], [0, 3, 1, -1], [-1, 0, 2, 2]])
def test_upfirdn2d_matches_reference_semantics(taps: list[int], up: int, pad: list[int]) -> None:
    gen = torch.Generator().manual_seed(sum(taps) + up)
    x = torch.randn(2, 3, 7, 6, generator=gen, dtype=torch.float64)
    f = setup_filter(taps).double()
    expected = _naive_upfirdn2d(x, f, up, pad, gain=up * up)
    assert torch.allclose(upfirdn2d_up(x, f, up, pad, gain=up * up), expected, atol=1e-12)


@pytest.mark.parametrize("kernel, padding", [(3, 1), (1, 0)])
@pytest.mark.parametrize("flip_weight", [False, True])
def test_upsampling_conv2d_resample_matches_reference_semantics(kernel: int, padding: int, flip_weight: bool) -> None:
    gen = torch.Generator().manual_seed(kernel)
    x = torch.randn(2, 4, 5, 5, generator=gen, dtype=torch.float64)
    w = torch.randn(6, 4, kernel, kernel, generator=gen, dtype=torch.float64)
    f = setup_filter([1, 3, 3, 1]).double()
    # torch_utils' general path: upsample with padding folded in, then a plain convolution.
    pad = [padding + 2, padding + 1, padding + 2, padding + 1]
    expected = F.conv2d(_naive_upfirdn2d(x, f, 2, pad, gain=4), w if flip_weight else w.flip([2, 3]))
    out = conv2d_resample(x, w, f, up=2, padding=padding, flip_weight=flip_weight)
    assert out.shape == (2, 6, 10, 10)
    assert torch.allclose(out, expected, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Golden outputs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_golden_outputs(golden_dir: Path, name: str) -> None:
    case = _case(golden_dir, name)
    generator = _generator(case)
    z, extra = case["input"], case["extra_outputs"]
    with torch.inference_mode():
        ws = generator.mapping(z, None, truncation_psi=0.7)
        assert _max_diff(ws, extra["ws_psi0.7"]) <= TOL
        assert _max_diff(generator.mapping(z, None, truncation_psi=1.0), extra["ws_psi1.0"]) <= TOL
        assert _max_diff(generator(z, None, truncation_psi=0.7), case["output"]) <= TOL
        assert _max_diff(generator.synthesis(ws, noise_mode="const"), extra["synthesis_psi0.7"]) <= TOL
        assert _max_diff(generator(z, None, truncation_psi=1.0), extra["output_psi1.0"]) <= TOL
        none = generator(z, None, truncation_psi=0.7, noise_mode="none")
        assert _max_diff(none, extra["output_psi0.7_noise_none"]) <= TOL
        # Both official execution orders, forced for every layer.
        for fused in (True, False):
            assert _max_diff(generator(z, None, truncation_psi=0.7, fused_modconv=fused), case["output"]) <= TOL
        assert _max_diff(generator(z, None, truncation_psi=0.7, fused_modconv=False),
                         extra["output_psi0.7_fused_modconv_false"]) <= TOL
    # The noise matters: 'none' differs clearly from 'const'.
    assert _max_diff(none, case["output"]) > 1e-2


@pytest.mark.parametrize("name", CASES)
def test_random_noise_matches_official_draw_order(golden_dir: Path, name: str) -> None:
    case = _case(golden_dir, name)
    generator = _generator(case)
    seed = case["meta"]["run_spec"]["noise_seed"]
    with torch.inference_mode():
        torch.manual_seed(seed)
        out = generator(case["input"], None, truncation_psi=0.7, noise_mode="random")
    assert _max_diff(out, case["extra_outputs"][f"output_psi0.7_noise_random_seed{seed}"]) <= TOL


def test_random_noise_with_a_private_generator_is_reproducible(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case)
    z = case["input"]
    with torch.inference_mode():
        a = generator(z, None, noise_mode="random", generator=torch.Generator().manual_seed(5))
        b = generator(z, None, noise_mode="random", generator=torch.Generator().manual_seed(5))
        c = generator(z, None, noise_mode="random", generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert _max_diff(a, c) > 1e-3


def test_single_sample_matches_batch_and_truncation_cutoff(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case)
    z, extra = case["input"], case["extra_outputs"]
    with torch.inference_mode():
        assert _max_diff(generator(z[1:], None, truncation_psi=0.7), case["output"][1:]) <= TOL
        ws = generator.mapping(z, None, truncation_psi=0.7, truncation_cutoff=3)
    assert _max_diff(ws[:, :3], extra["ws_psi0.7"][:, :3]) <= TOL
    assert _max_diff(ws[:, 3:], extra["ws_psi1.0"][:, 3:]) <= TOL


def test_channels_last_fp32_is_exact_in_every_execution_order(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        for fused in (None, True, False):
            out = generator(case["input"], None, truncation_psi=0.7, fused_modconv=fused)
            assert _max_diff(out, case["output"]) <= TOL


def test_weight_cache_follows_weight_changes(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case)
    z = case["input"]
    with torch.inference_mode():
        generator(z, None)  # fills the caches
        # In place (the version counter moves); one input channel, so demodulation cannot undo it.
        generator.synthesis.b4.conv1.weight[:, 0].mul_(3)
        edited = generator(z, None, truncation_psi=0.7)
    assert _max_diff(edited, case["output"]) > 1e-3
    fresh = Generator(**case["config"]).eval()
    fresh.load_state_dict(generator.state_dict())
    with torch.inference_mode():
        assert _max_diff(fresh(z, None, truncation_psi=0.7), edited) <= TOL
        generator.load_state_dict(case["state_dict"])
        assert _max_diff(generator(z, None, truncation_psi=0.7), case["output"]) <= TOL


def test_conv_clamp_is_active_in_the_clamp_case(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small_clamp.pt")
    config = dict(case["config"], synthesis_kwargs=dict(case["config"]["synthesis_kwargs"], conv_clamp=None))
    unclamped = Generator(**config).eval()
    unclamped.load_state_dict(case["state_dict"], strict=True)
    with torch.inference_mode():
        out = unclamped(case["input"], None, truncation_psi=0.7)
    assert _max_diff(out, case["output"]) > 0.05


@pytest.mark.parametrize("how", ["autocast", "bf16_weights"])
def test_bf16_channels_last_fast_path_is_close_to_fp32(golden_dir: Path, how: str) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        if how == "autocast":  # the project's fast path
            with torch.autocast("cpu", dtype=torch.bfloat16):
                fast = generator(case["input"], None, truncation_psi=0.7)
        else:
            fast = generator.to(torch.bfloat16)(case["input"], None, truncation_psi=0.7)
    reference = case["output"]
    assert fast.dtype == torch.float32 and fast.shape == reference.shape
    assert torch.isfinite(fast).all()
    assert _max_diff(fast, reference) <= 0.02 * reference.abs().max().item()
    a, b = ((fast.clamp(-1, 1) + 1) / 2), ((reference.clamp(-1, 1) + 1) / 2)
    psnr = 10 * math.log10(1 / ((a - b) ** 2).mean().item())
    assert psnr > 40


def test_training_mode_backward_runs(golden_dir: Path) -> None:
    case = _case(golden_dir, "case_ada_small.pt")
    generator = _generator(case).train()
    w_avg = generator.mapping.w_avg.clone()
    out = generator(case["input"], None, truncation_psi=0.7)
    out.square().mean().backward()
    assert generator.synthesis.b32.conv1.weight.grad is not None
    assert generator.mapping.fc0.weight.grad is not None
    assert not torch.equal(generator.mapping.w_avg, w_avg)  # tracked like the official code
    assert _max_diff(out.detach(), case["output"]) > 0  # the moving average moved before truncation


def test_bad_inputs_raise_clear_errors(golden_dir: Path) -> None:
    generator = _generator(_case(golden_dir, "case_ada_small.pt"))
    with pytest.raises(ValueError, match="z must be"):
        generator(torch.zeros(1, 3), None)
    with pytest.raises(ValueError, match="ws must be"):
        generator.synthesis(torch.zeros(1, 2, 64))
    with pytest.raises(ValueError, match="noise_mode"):
        generator(torch.zeros(1, 64), None, noise_mode="bogus")
    with pytest.raises(ValueError, match="power of two"):
        Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=24, img_channels=3)


# ---------------------------------------------------------------------------------------------
# Safe pickle loading
# ---------------------------------------------------------------------------------------------

_SUBPROCESS_SCRIPT = r"""
import importlib, json, sys
for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util", "training", "training.networks"):
    sys.modules[name] = None  # importing any of these now raises ImportError
import torch
from restorers.models.stylegan_pickle import load_stylegan2_ada_pickle
try:
    importlib.import_module("torch_utils.persistence")
    blocked = False
except ImportError:
    blocked = True
G = load_stylegan2_ada_pickle(sys.argv[1])
case = torch.load(sys.argv[2])
with torch.inference_mode():
    out = G(case["input"], None, truncation_psi=0.7, noise_mode="const")
print(json.dumps({"blocked": blocked, "max_diff": (out - case["output"]).abs().max().item(),
                  "eval": not G.training, "class": type(G).__module__ + "." + type(G).__name__}))
"""


def test_genuine_pickle_loads_without_nvidia_code(golden_dir: Path) -> None:
    folder = golden_dir / "stylegan2_ada"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_SCRIPT, str(folder / "case_ada_small.pkl"),
         str(folder / "case_ada_small.pt")],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["blocked"] is True
    assert report["eval"] is True
    assert report["class"] == "restorers.models.archs.stylegan2_ada.Generator"
    assert report["max_diff"] <= TOL


def test_pickle_records_are_inert_data(golden_dir: Path) -> None:
    data = read_network_pickle(golden_dir / "stylegan2_ada" / "case_ada_small.pkl")
    assert sorted(data) == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    assert {k: v.class_name for k, v in data.items() if isinstance(v, PersistentRecord)} == {
        "G": "Generator", "D": "Discriminator", "G_ema": "Generator", "augment_pipe": "AugmentPipe",
    }
    record = data["G_ema"]
    assert record.version == 6
    assert record.state["_init_kwargs"]["synthesis_kwargs"] == {
        "channel_base": 1024, "channel_max": 48, "num_fp16_res": 2, "conv_clamp": 256,
    }
    case = _case(golden_dir, "case_ada_small.pt")
    weight = record.state["_modules"]["mapping"].state["_modules"]["fc0"].state["_parameters"]["weight"]
    assert torch.equal(weight, case["state_dict"]["mapping.fc0.weight"])


def test_stylegan3_repo_style_flat_kwargs_are_folded(golden_dir: Path) -> None:
    """NVlabs/stylegan3's networks_stylegan2.Generator records its synthesis kwargs flat."""
    record = read_network_pickle(golden_dir / "stylegan2_ada" / "case_ada_small.pkl")["G_ema"]
    kwargs = dict(record.state["_init_kwargs"])
    flat = {**{k: v for k, v in kwargs.items() if k != "synthesis_kwargs"}, **kwargs["synthesis_kwargs"],
            "fused_modconv_default": "inference_only"}
    generator = generator_from_record(dataclasses.replace(record, state={**record.state, "_init_kwargs": flat}))
    case = _case(golden_dir, "case_ada_small.pt")
    with torch.inference_mode():
        assert _max_diff(generator(case["input"], None, truncation_psi=0.7), case["output"]) <= TOL
    bad = dict(flat, not_a_generator_argument=1)
    with pytest.raises(ValueError, match="do not fit"):
        generator_from_record(dataclasses.replace(record, state={**record.state, "_init_kwargs": bad}))


def test_state_dict_file_with_config_loads(golden_dir: Path, tmp_path: Path) -> None:
    case = _case(golden_dir, "case_ada_small_clamp.pt")
    path = tmp_path / "g_ema.pt"
    torch.save({"config": case["config"], "state_dict": case["state_dict"]}, path)
    generator = load_stylegan2_ada_pickle(path)
    with torch.inference_mode():
        assert _max_diff(generator(case["input"], None, truncation_psi=0.7), case["output"]) <= TOL


class _CallsOsSystem:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("payload, offending", [(_CallsOsSystem, os.system.__module__ + ".system"),
                                                (_CallsEval, "builtins.eval")])
def test_malicious_globals_are_refused_and_not_run(tmp_path: Path, payload: type, offending: str) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": payload(marker)}, protocol=4))
    with pytest.raises(UnsafePickleError, match=offending.replace(".", r"\.")):
        load_stylegan2_ada_pickle(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_storage_bytes_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class EvilStorage:
        def __reduce__(self):  # noqa: ANN204 - pickle protocol
            return (torch.storage._load_from_bytes, (pickle.dumps(_CallsOsSystem(marker)),))

    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(pickle.dumps({"G_ema": EvilStorage()}, protocol=4))
    with pytest.raises(UnsafePickleError, match="was refused") as refused:
        load_stylegan2_ada_pickle(path)
    assert not marker.exists()
    assert "weights_only" not in str(refused.value)  # torch's advice to load it unsafely never reaches a user


def test_embedded_module_source_is_never_executed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden_dir: Path
) -> None:
    marker = tmp_path / "marker"
    # A stand-in for NVIDIA's persistence module, only so that pickle can name the global.
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # noqa: ANN001, ANN202 - never called here
        raise AssertionError("the real reconstructor must not run")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", persistence)

    config = _case(golden_dir, "case_ada_small.pt")["config"]
    meta = {
        "type": "class", "version": 6, "class_name": "Generator",
        "module_src": f"open({str(marker)!r}, 'w').write('pwned')\n",
        "state": {"_init_args": (), "_init_kwargs": config, "_parameters": {}, "_buffers": {}, "_modules": {}},
    }

    class Persistent:
        def __reduce__(self):  # noqa: ANN204 - pickle protocol
            return (_reconstruct_persistent_obj, (meta,))

    path = tmp_path / "src.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Persistent()}, protocol=4))
    monkeypatch.delitem(sys.modules, "torch_utils.persistence")
    monkeypatch.delitem(sys.modules, "torch_utils")

    record = read_network_pickle(path)["G_ema"]
    assert isinstance(record, PersistentRecord) and record.class_name == "Generator"
    with pytest.raises(ValueError, match="do not match"):  # no tensors: strict loading fails
        load_stylegan2_ada_pickle(path)
    assert not marker.exists()


def test_unsupported_pickle_contents_raise_value_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"G": 1}, protocol=4))
    with pytest.raises(ValueError, match="no 'G_ema'"):
        load_stylegan2_ada_pickle(path)
    path.write_bytes(pickle.dumps([1, 2], protocol=4))
    with pytest.raises(ValueError, match="expected a dict"):
        load_stylegan2_ada_pickle(path)
