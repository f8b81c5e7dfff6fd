"""CodeFormer against the official golden cases (weights rebuilt from a seed) and the published layout."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from restorers.models import networks, runtime
from restorers.models.archs.codeformer import CodeFormer, Upsample, adaptive_instance_norm
from tools.codeformer_check import load_manifest, rebuild_state_dict

TOL = 1e-4  # the golden README's tolerance for an exact re-implementation (2 threads: ~2e-5)
TINY = dict(dim_embd=32, n_head=4, n_layers=2, codebook_size=16, connect_list=["32", "64", "128", "256"],
            vq_nf=32, vq_ch_mult=(1, 1, 1, 1, 1, 1), vq_emb_dim=32)


@pytest.fixture(scope="module")
def manifest(golden_dir: Path) -> dict:
    return load_manifest(golden_dir / "codeformer" / "manifest_codeformer.json")


@pytest.fixture(scope="module")
def cases(golden_dir: Path) -> dict[str, dict]:
    return {name: torch.load(golden_dir / "codeformer" / f"case_codeformer_{name}.pt") for name in ("w0", "w05")}


@pytest.fixture(scope="module")
def golden_net(manifest: dict, cases: dict) -> CodeFormer:
    assert cases["w0"]["seed"] == cases["w05"]["seed"]  # one rebuild serves both shared cases
    net = CodeFormer(**manifest["config"]).eval().requires_grad_(False)
    net.load_state_dict(rebuild_state_dict(manifest, cases["w0"]["seed"]), strict=True)
    return net


def test_state_dict_layout_is_the_published_checkpoints(manifest: dict) -> None:
    with torch.device("meta"):  # shapes only: no 376 MB allocation
        net = CodeFormer(**manifest["config"])
    state = net.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [(name, shape) for _, name, shape, _ in manifest["ordered_keys"]]
    assert sum(p.numel() for p in net.parameters()) == manifest["num_params"] == 94_112_707
    assert not list(net.buffers())
    # fix_modules freezes the codebook and the generator, as the official constructor does.
    assert not any(p.requires_grad for p in net.quantize.parameters())
    assert not any(p.requires_grad for p in net.generator.parameters())
    assert all(p.requires_grad for p in net.ft_layers.parameters())


def test_golden_forward_w0(golden_net: CodeFormer, cases: dict) -> None:
    case = cases["w0"]
    assert (case["w"], case["adain"]) == (0.0, True)
    with torch.no_grad():
        out, logits, lq_feat = golden_net(case["input"], w=case["w"], adain=case["adain"])
    assert out.shape == (1, 3, 512, 512) and logits.shape == (1, 256, 1024) and lq_feat.shape == (1, 256, 16, 16)
    assert (out - case["output"]).abs().max().item() <= TOL
    assert (logits - case["logits"]).abs().max().item() <= TOL
    assert (lq_feat - case["lq_feat"]).abs().max().item() <= TOL
    assert torch.equal(logits.argmax(dim=2, keepdim=True), case["top_idx"])


def test_golden_w05_through_encode_once_decode(golden_net: CodeFormer, cases: dict) -> None:
    """The sweep path: encode once, decode per w; w=0.5 fuses at all four sizes (32..256)."""
    case = cases["w05"]
    assert (case["w"], case["adain"]) == (0.5, True)
    with torch.no_grad():
        encoding = golden_net.encode(case["input"], adain=True)
        out = golden_net.decode(encoding, w=0.5)
    assert sorted(encoding.features, key=int) == ["32", "64", "128", "256"]
    assert (encoding.logits - case["logits"]).abs().max().item() <= TOL
    assert torch.equal(encoding.logits.argmax(dim=2, keepdim=True), case["top_idx"])
    assert (out - case["output"]).abs().max().item() <= TOL
    # Fusion really acted: the two shared outputs differ by up to 2.
    assert (out - cases["w0"]["output"]).abs().max().item() > 1.0


def test_adain_matches_the_official_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    content, style = torch.randn(2, 8, 16, 16, generator=gen) * 0.06, torch.randn(2, 8, 16, 16, generator=gen) * 3 + 1
    out = adaptive_instance_norm(content, style)
    flat_c, flat_s = content.flatten(2), style.flatten(2)
    c_std = (flat_c.var(dim=2, unbiased=True) + 1e-5).sqrt()[..., None, None]
    s_std = (flat_s.var(dim=2, unbiased=True) + 1e-5).sqrt()[..., None, None]
    expected = (content - flat_c.mean(2)[..., None, None]) / c_std * s_std + flat_s.mean(2)[..., None, None]
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_net() -> CodeFormer:
    torch.manual_seed(0)
    net = CodeFormer(**TINY).eval().requires_grad_(False)
    with torch.no_grad():  # non-trivial biases, norms and a spread codebook so every path is active
        for name, p in net.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
        net.position_emb.normal_(0, 0.5)
    return net


def test_tiny_config_without_adain_and_at_w1(tiny_net: CodeFormer) -> None:
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        enc = tiny_net.encode(x, adain=False)
        out0, out1 = tiny_net.decode(enc, 0.0), tiny_net.decode(enc, 1.0)
    # Without AdaIN the generator gets the codebook rows of the arg-max codes as they are.
    codes = enc.logits.argmax(dim=2)[0]
    assert torch.equal(enc.quant[0].flatten(1).T, tiny_net.quantize.embedding.weight[codes])
    assert torch.isfinite(out0).all() and torch.isfinite(out1).all()
    assert (out0 - out1).abs().max() > 1e-3  # w=1 fuses the encoder features, w=0 skips fusion
    # The official positional order (x, w, detach_16, code_only, adain) and code_only's return value.
    with torch.no_grad():
        logits, lq_feat = tiny_net(x, 0.0, True, True, False)
    assert torch.equal(logits, enc.logits) and torch.equal(lq_feat, enc.lq_feat)


def test_reduced_precision_keeps_codes_and_attention_in_fp32(tiny_net: CodeFormer) -> None:
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(2)) * 2 - 1
    blocks = tiny_net.generator.blocks
    dtypes: dict[int, torch.dtype] = {}

    def record(index: int):  # a forward hook that returns None (a returned value would replace the output)
        def hook(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
            dtypes.setdefault(index, out.dtype)
        return hook

    hooks = [b.register_forward_hook(record(i)) for i, b in enumerate(blocks)]
    try:
        with torch.no_grad():
            ref = tiny_net.encode(x, adain=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                fast = tiny_net.encode(x, adain=True)
                out = tiny_net.decode(fast, 0.5)
    finally:
        for hook in hooks:
            hook.remove()
    assert fast.logits.dtype == torch.float32 and fast.quant.dtype == torch.float32
    assert out.dtype == torch.bfloat16  # the generator's convolutions did run in bf16
    # ... except the 16x16 stage (everything before the first Upsample), which stays in fp32.
    first_up = next(i for i, b in enumerate(blocks) if isinstance(b, Upsample))
    assert first_up == 8 and all(dtypes[i] == torch.float32 for i in range(first_up))
    assert dtypes[first_up] == torch.bfloat16
    assert (fast.logits - ref.logits).abs().max() < 1e-4  # the encoder stayed in fp32


def test_golden_fast_path_keeps_every_code(golden_net: CodeFormer, cases: dict) -> None:
    """bf16 autocast + channels_last (the engine's CPU fast path) on the golden face: codes exact, output >= 44 dB
    (44.7 dB measured; 43.1 dB before the generator's 16x16 stage was kept in fp32)."""
    case = cases["w05"]
    net = networks.prepare(golden_net, torch.device("cpu"))  # channels_last weights, in place
    with runtime.inference(torch.device("cpu"), "bf16"):
        out, logits, _ = net(case["input"].contiguous(memory_format=torch.channels_last), w=0.5, adain=True)
    assert torch.equal(logits.argmax(dim=2, keepdim=True), case["top_idx"])
    mse = ((out.float().clamp(-1, 1) - case["output"].clamp(-1, 1)) / 2).square().mean().item()
    assert 10 * math.log10(1 / mse) >= 44.0


def test_bad_input_size_is_a_clear_error(tiny_net: CodeFormer) -> None:
    with pytest.raises(ValueError, match="512x512 aligned face"):
        tiny_net(torch.zeros(1, 3, 256, 256))
