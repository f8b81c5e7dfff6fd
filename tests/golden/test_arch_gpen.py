"""GPEN FullGenerator: official golden output, checkpoint layouts, fast path, batching."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from restorers.models.archs.gpen import FullGenerator, blur2d, upsample2d


@pytest.fixture(scope="module")
def case(golden_dir: Path) -> dict:
    return torch.load(golden_dir / "gpen" / "case_gpen_128.pt")


@pytest.fixture(scope="module")
def model(case: dict) -> FullGenerator:
    net = FullGenerator(**case["config"]).eval()
    net.load_state_dict(case["state_dict"], strict=True)
    return net


def _psnr01(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two [-1, 1] images after FaceGAN's mapping to [0, 1] with clipping."""
    a = (a.float() * 0.5 + 0.5).clamp(0, 1)
    b = (b.float() * 0.5 + 0.5).clamp(0, 1)
    return 10 * math.log10(1.0 / torch.mean((a - b) ** 2).item())


def test_golden_case_fp32(case: dict, model: FullGenerator) -> None:
    assert case["config"]["size"] == 128 and case["input"].shape == (2, 3, 128, 128)
    with torch.inference_mode():
        image, latent = model(case["input"])
    assert latent is None
    assert image.shape == case["output"].shape and image.dtype == torch.float32
    diff = (image - case["output"]).abs().max().item()
    assert diff <= 1e-4, diff
    # The output is not trivially small: the check above is meaningful.
    assert case["output"].abs().max().item() > 1.0


def test_return_latents(case: dict, model: FullGenerator) -> None:
    with torch.inference_mode():
        image, latent = model(case["input"][:1], return_latents=True)
    n_latent = 2 * int(math.log2(case["config"]["size"])) - 2
    assert latent.shape == (1, n_latent, case["config"]["style_dim"])
    assert torch.equal(latent[:, 0], latent[:, -1])  # one style repeated for every layer
    assert (image - case["output"][:1]).abs().max().item() <= 1e-4


def test_channels_last_fp32_matches(case: dict, model: FullGenerator) -> None:
    x = case["input"].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        image, _ = model(x)
    assert (image - case["output"]).abs().max().item() <= 1e-4


def test_bf16_fast_path_close_to_fp32(case: dict, model: FullGenerator) -> None:
    """channels_last + bfloat16 autocast: max abs diff <= 0.06 on outputs up to ~2.2 in
    magnitude, and >= 45 dB PSNR in [0, 1] (measured: 0.029 and 49.7 dB)."""
    x = case["input"].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        image, _ = model(x)
    assert image.dtype == torch.float32  # the RGB sum is kept in float32
    assert (image - case["output"]).abs().max().item() <= 0.06
    assert _psnr01(image, case["output"]) >= 45.0


def test_batch_equals_single_calls(case: dict, model: FullGenerator) -> None:
    x = case["input"]
    with torch.inference_mode():
        batched, _ = model(x)
        singles = torch.cat([model(x[i : i + 1])[0] for i in range(x.shape[0])])
    assert (batched - singles).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", ["GPEN-BFR-512", "GPEN-BFR-256"])
def test_manifest_layout_loads_strict(golden_dir: Path, name: str) -> None:
    manifest = json.loads((golden_dir / "gpen" / f"manifest_{name}.json").read_text())
    with torch.device("meta"):  # real config, no memory allocated
        net = FullGenerator(**manifest["config"])
    state = net.state_dict()
    assert list(state) == list(manifest["keys"])
    assert {k: list(v.shape) for k, v in state.items()} == manifest["keys"]
    assert len(state) == manifest["num_keys"]
    assert sum(p.numel() for p in net.parameters()) == manifest["num_params"]
    assert sum(v.numel() for v in state.values()) == manifest["num_state_dict_elements"]
    assert sorted(name for name, _ in net.named_buffers()) == sorted(manifest["buffers"])
    fake = {k: torch.empty(shape, device="meta") for k, shape in manifest["keys"].items()}
    result = net.load_state_dict(fake, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys


def _upfirdn2d_reference(
    x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]
) -> torch.Tensor:
    """Literal upfirdn2d (down=1): zero insertion, pad (negative crops), flipped correlation."""
    n, c, h, w = x.shape
    up_x = x.new_zeros(n, c, h * up, w * up)
    up_x[:, :, ::up, ::up] = x
    padded = F.pad(up_x, (pad[0], pad[1], pad[0], pad[1]))
    weight = kernel.flip(0, 1)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(padded, weight, groups=c)


def test_fir_helpers_match_upfirdn2d_semantics() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 9, 7, generator=gen)
    kernel = torch.rand(4, 4, generator=gen)  # asymmetric, so the flip matters
    for pad in [(1, 1), (2, 2), (2, 1), (-1, 2)]:
        ref = _upfirdn2d_reference(x, kernel, 1, pad)
        assert torch.allclose(blur2d(x, kernel, pad), ref, atol=1e-5), pad
    for pad in [(2, 1), (1, 0), (2, 2)]:
        ref = _upfirdn2d_reference(x, kernel, 2, pad)
        out = upsample2d(x, kernel, pad)
        assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5), pad


def test_rejects_wrong_input_size(model: FullGenerator) -> None:
    with pytest.raises(ValueError, match="128"):
        model(torch.zeros(1, 3, 64, 64))


def _fast(net: FullGenerator, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        return net(x.contiguous(memory_format=torch.channels_last))[0]


def test_weight_cache_follows_load_state_dict_and_inplace_edits(case: dict) -> None:
    """Cached bf16 weights / per-tap norms must never go stale: after load_state_dict, an
    in-place edit and a channels_last re-layout (engine `prepare`), outputs equal a fresh net's."""
    x = case["input"][:1]
    net = FullGenerator(**case["config"]).eval()
    net.load_state_dict(case["state_dict"], strict=True)
    with torch.inference_mode():
        first = net(x)[0]
    first_fast = _fast(net, x)
    assert (first - case["output"][:1]).abs().max().item() <= 1e-4
    # The cache is populated by inference calls (a modulated conv holds its per-tap norms).
    assert net.generator.conv1.conv._cache._entries

    # load_state_dict copies in place: the cached tensors must be rebuilt.
    edited = {k: v.clone() for k, v in case["state_dict"].items()}
    edited["generator.conv1.conv.weight"].mul_(0.5).add_(0.1)
    edited["generator.convs.0.conv.weight"].neg_()
    edited["ecd1.0.1.weight"].mul_(2.0)
    edited["generator.convs.1.activate.bias"].add_(0.3)
    net.load_state_dict(edited, strict=True)
    fresh = FullGenerator(**case["config"]).eval()
    fresh.load_state_dict(edited, strict=True)
    with torch.inference_mode():
        got, want = net(x)[0], fresh(x)[0]
    assert (want - first).abs().max().item() > 1e-2  # the edit matters
    assert (got - want).abs().max().item() <= 1e-6
    assert (_fast(net, x) - _fast(fresh, x)).abs().max().item() <= 1e-6
    assert (_fast(net, x) - first_fast).abs().max().item() > 1e-2

    # In-place edits of parameters (version counter bump), fp32 and fast path.
    with torch.no_grad():
        for module in (net, fresh):
            module.generator.convs[2].conv.weight.mul_(-0.75)
            module.ecd2[0][1].weight.add_(0.05)
            module.generator.convs[3].noise.weight.fill_(0.2)
    with torch.inference_mode():
        assert (net(x)[0] - fresh(x)[0]).abs().max().item() <= 1e-6
    assert (_fast(net, x) - _fast(fresh, x)).abs().max().item() <= 1e-6

    # The engine's per-tensor channels_last re-layout replaces storages (`.data = ...`).
    for tensor in [*net.parameters(), *net.buffers()]:
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert (net(x)[0] - fresh(x)[0]).abs().max().item() <= 1e-5


def test_cache_unused_with_autograd(case: dict) -> None:
    """With autograd on, nothing is cached and gradients reach the weights."""
    net = FullGenerator(**case["config"]).eval()
    net.load_state_dict(case["state_dict"], strict=True)
    image, _ = net(case["input"][:1])
    image.square().mean().backward()
    assert not net.generator.conv1.conv._cache._entries
    assert net.generator.conv1.conv.weight.grad is not None
    assert net.generator.conv1.conv.weight.grad.abs().sum().item() > 0
    assert net.ecd1[0][1].weight.grad.abs().sum().item() > 0
