"""GFPGANv1Clean against the official golden case and the published v1.3 / v1.4 layouts."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from restorers.models.archs.gfpgan import GFPGANv1Clean

TOL_FP32 = 1e-4
# bf16 fast path vs the fp32 golden output (max |output| is 3.9 here): measured max abs diff
# 0.020 and mean abs diff 0.0034; the bounds leave about 2x headroom.
TOL_BF16_MAX = 0.05
TOL_BF16_MEAN = 0.008

CHANNELS_LAST = torch.channels_last


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """The 64 px model is tiny: one thread avoids per-op thread wake-ups on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def case(golden_dir: Path) -> dict:
    return torch.load(golden_dir / "gfpgan" / "case_gfpgan_64.pt")


@pytest.fixture(scope="module")
def model(case: dict) -> GFPGANv1Clean:
    net = GFPGANv1Clean(**case["config"]).eval()
    net.load_state_dict(case["state_dict"], strict=True)
    return net


def test_golden_output_fixed_noise(model: GFPGANv1Clean, case: dict) -> None:
    with torch.no_grad():
        image, out_rgbs = model(case["input"], return_rgb=True, randomize_noise=False)
    assert image.shape == case["output"].shape == (2, 3, 64, 64)
    assert (image - case["output"]).abs().max().item() <= TOL_FP32
    assert [tuple(r.shape) for r in out_rgbs] == [(2, 3, s, s) for s in (8, 16, 32, 64)]
    with torch.no_grad():
        default_image, no_rgbs = model(case["input"], return_rgb=False)
    # The default is the deterministic, stored-noise call.
    assert no_rgbs == []
    assert torch.equal(default_image, image)


def test_golden_output_random_noise_global_seed(model: GFPGANv1Clean, case: dict) -> None:
    expected = case["extra_outputs"]["output_randomize_noise_seed4242"]
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(4242)
        image, _ = model(case["input"], return_rgb=False, randomize_noise=True)
    assert (image - expected).abs().max().item() <= TOL_FP32
    # It really differs from the stored-noise output.
    assert (image - case["output"]).abs().max().item() > 1e-2


def test_noise_generator(model: GFPGANv1Clean, case: dict) -> None:
    x = case["input"]
    expected = case["extra_outputs"]["output_randomize_noise_seed4242"]
    with torch.no_grad():
        seeded = model(x, randomize_noise=True, noise_generator=torch.Generator().manual_seed(4242))[0]
        again = model(x, randomize_noise=True, noise_generator=torch.Generator().manual_seed(4242))[0]
        other = model(x, randomize_noise=True, noise_generator=torch.Generator().manual_seed(7))[0]
    # Same draws in the same order as the official global-RNG call.
    assert (seeded - expected).abs().max().item() <= TOL_FP32
    assert torch.equal(seeded, again)
    assert (other - seeded).abs().max().item() > 1e-2
    with pytest.raises(ValueError, match="randomize_noise"):
        model(x, noise_generator=torch.Generator())


@pytest.mark.parametrize("version", ["1.3", "1.4"])
def test_manifest_layout_loads_strict(golden_dir: Path, version: str) -> None:
    manifest = json.loads((golden_dir / "gfpgan" / f"manifest_GFPGANv{version}.json").read_text())
    with torch.device("meta"):
        net = GFPGANv1Clean(**manifest["config"])
    state = net.state_dict()
    assert list(state) == list(manifest["keys"])
    assert {k: list(v.shape) for k, v in state.items()} == manifest["keys"]
    assert len(state) == manifest["num_keys"] == 285
    assert sum(p.numel() for p in net.parameters()) == manifest["num_params"] == 86_444_252
    assert sum(v.numel() for v in state.values()) == manifest["num_state_dict_elements"]
    assert sorted(name for name, _ in net.named_buffers()) == sorted(manifest["buffers"])
    # A checkpoint with exactly the official shapes (5-D modulated weights) loads strictly.
    official = {k: torch.empty(shape, device="meta") for k, shape in manifest["keys"].items()}
    result = net.load_state_dict(official, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_state_dict_round_trip(model: GFPGANv1Clean, case: dict) -> None:
    state = model.state_dict()
    key = "stylegan_decoder.style_convs.0.modulated_conv.weight"
    assert state[key].shape == case["state_dict"][key].shape == (1, 32, 32, 3, 3)
    assert all(torch.equal(state[k], v) for k, v in case["state_dict"].items())
    fresh = GFPGANv1Clean(**case["config"]).eval()
    fresh.load_state_dict(state, strict=True)
    with torch.no_grad():
        assert torch.equal(fresh(case["input"])[0], model(case["input"])[0])


def test_batch_of_two_equals_two_single_calls(model: GFPGANv1Clean, case: dict) -> None:
    x = case["input"]
    with torch.no_grad():
        both = model(x)[0]  # grouped conv path
        singles = torch.cat([model(x[i : i + 1])[0] for i in range(2)])  # plain conv path
    assert (both - singles).abs().max().item() <= 1e-5


def test_bf16_channels_last_fast_path(model: GFPGANv1Clean, case: dict) -> None:
    fast = copy.deepcopy(model).to(memory_format=CHANNELS_LAST)
    x = case["input"].contiguous(memory_format=CHANNELS_LAST)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        batch2 = fast(x, return_rgb=False)[0]
        batch1 = fast(x[:1])[0]
    for got, ref in ((batch2, case["output"]), (batch1, case["output"][:1])):
        assert got.dtype == torch.float32  # the RGB skip sum stays in fp32
        diff = (got - ref).abs()
        assert diff.max().item() <= TOL_BF16_MAX
        assert diff.mean().item() <= TOL_BF16_MEAN
    # channels_last alone changes nothing beyond fp32 rounding.
    with torch.no_grad():
        assert (fast(x)[0] - case["output"]).abs().max().item() <= TOL_FP32


def test_backward_reaches_all_used_parameters(case: dict) -> None:
    net = GFPGANv1Clean(**case["config"])
    net.load_state_dict(case["state_dict"])
    image, out_rgbs = net(case["input"][:1], return_rgb=True)
    (image.square().mean() + sum(r.mean() for r in out_rgbs)).backward()
    no_grad = {name for name, p in net.named_parameters() if p.grad is None}
    # input_is_latent=True: the style MLP is loaded but never used, as in the official model.
    assert no_grad == {name for name, _ in net.named_parameters() if ".style_mlp." in name}
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_fix_decoder_freezes_only_the_decoder(case: dict) -> None:
    config = dict(case["config"], fix_decoder=True)
    net = GFPGANv1Clean(**config)
    assert not any(p.requires_grad for p in net.stylegan_decoder.parameters())
    assert net.final_linear.weight.requires_grad


def test_bad_arguments(model: GFPGANv1Clean) -> None:
    with pytest.raises(ValueError, match="decoder_load_path"):
        GFPGANv1Clean(out_size=64, decoder_load_path="decoder.pth")
    with pytest.raises(ValueError, match="power of two"):
        GFPGANv1Clean(out_size=96)
    with pytest.raises(ValueError, match=r"\[b, 3, 64, 64\]"):
        model(torch.zeros(1, 3, 32, 32))
