"""LPIPS-VGG and ArcFace identity: architectures with the published key layouts, loaded through the real hub
path from small checkpoints in a temporary Hugging Face cache.

The real files (553 MB VGG16, 175 MB IResNet-50) cannot be fetched here. Each test checkpoint has the full
layout but small storage: every weight is a strided view of a short random vector (see tiny()), so
torch.save writes under 2 MB and hub.load_weights, the size/sha256 pin check and the strict loaders run as
they do on the real files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from restorers.analysis import identity, perceptual
from restorers.models import hub, metric_weights
from restorers.models.archs.iresnet import IResNet
from restorers.models.archs.lpips_vgg import LPIPSVGG
from hubcache import add_file, checkpoint_bytes

# The published layouts, written down from the reference code (torchvision vgg16, lpips v0.1 vgg.pth,
# insightface iresnet50) and, for the LPIPS layers, checked on the real file of the lpips 0.1.4 wheel.
VGG_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
             14: (256, 256), 17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512),
             28: (512, 512)}
LPIPS_LINS = {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate((64, 128, 256, 512, 512))}


def tiny(shape: tuple[int, ...], generator: torch.Generator, positive: bool = False) -> torch.Tensor:
    """A tensor of `shape` over a small random storage: row k (along the first axis) is the same random
    vector shifted by k, so rows differ (distinct filters) while torch.save writes prod(shape[1:]) + shape[0]
    values instead of prod(shape)."""
    if len(shape) == 1:
        base = torch.randn(shape[0], generator=generator) * 0.05
        return base.abs() + 0.5 if positive else base
    row = int(np.prod(shape[1:]))
    base = torch.randn(row + shape[0] - 1, generator=generator) * (1.0 / row) ** 0.5
    strides = [1]
    for size in reversed(shape[2:]):
        strides.insert(0, strides[0] * size)
    return base.as_strided(shape, (1, *strides))


def tiny_state_dict(reference: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in reference.items():
        if not value.dtype.is_floating_point:
            out[key] = value.clone()
        else:
            out[key] = tiny(tuple(value.shape), generator, positive=key.endswith(("running_var", "weight"))
                            and value.ndim == 1)
    return out


def vgg_file_state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    state = {}
    for index, (out_c, in_c) in VGG_CONVS.items():
        state[f"features.{index}.weight"] = tiny((out_c, in_c, 3, 3), generator)
        state[f"features.{index}.bias"] = tiny((out_c,), generator)
    state["classifier.0.weight"] = tiny((4096, 25088), generator)  # in the torchvision file, unused by LPIPS
    state["classifier.0.bias"] = tiny((4096,), generator)
    return state


def lin_file_state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return {k: tiny(s, generator).abs() for k, s in LPIPS_LINS.items()}


def test_lpips_layout_is_the_published_one() -> None:
    network = LPIPSVGG()
    trunk = network.trunk_state_dict()
    expected = {}
    for index, (out_c, in_c) in VGG_CONVS.items():
        expected[f"features.{index}.weight"] = (out_c, in_c, 3, 3)
        expected[f"features.{index}.bias"] = (out_c,)
    assert {k: tuple(v.shape) for k, v in trunk.items()} == expected
    assert {k: tuple(v.shape) for k, v in network.lin_state_dict().items()} == LPIPS_LINS


def test_iresnet50_layout_matches_the_published_backbone() -> None:
    state = IResNet(50).state_dict()
    floats = sum(v.numel() for v in state.values() if v.dtype.is_floating_point)
    # 43,628,992 float32 values = 174.5 MB: the published backbone file has 174,680,546 bytes.
    assert len(state) == 475 and floats == 43_628_992
    assert tuple(state["conv1.weight"].shape) == (64, 3, 3, 3)
    assert tuple(state["layer3.13.conv2.weight"].shape) == (256, 256, 3, 3)
    assert tuple(state["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(state["fc.weight"].shape) == (512, 25088)
    assert "features.running_var" in state and "layer4.3.bn1.weight" not in state


def test_lpips_loaders_reject_other_files() -> None:
    network = LPIPSVGG()
    wrong = vgg_file_state_dict()
    wrong["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    with pytest.raises(ValueError, match="VGG16 trunk.*features.0.weight"):
        network.load_trunk(wrong)
    with pytest.raises(ValueError, match="LPIPS v0.1 vgg.pth"):
        network.load_lins({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)})


@pytest.fixture()
def learned_cache(hub_cache, monkeypatch):
    """The three pinned files replaced by tiny ones with the same layouts, in a temporary hub cache."""
    pins = {
        "VGG16_IMAGENET": (metric_weights.VGG16_IMAGENET, checkpoint_bytes(vgg_file_state_dict(), wrap=None)),
        "LPIPS_VGG_LINEAR": (metric_weights.LPIPS_VGG_LINEAR, checkpoint_bytes(lin_file_state_dict(), wrap=None)),
        "ARCFACE_R50": (metric_weights.ARCFACE_R50,
                        checkpoint_bytes(tiny_state_dict(IResNet(50).state_dict()), wrap=None)),
    }
    fakes = {}
    for name, (pin, data) in pins.items():
        assert len(data) < 2_000_000  # small storage, full layout
        fake = fakes[name] = add_file(hub_cache, pin.repo_id, pin.filename, data)
        monkeypatch.setattr(metric_weights, name, fake)
        for module in (perceptual, identity):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, fake)
    # The registry names the files too (metric_problem checks them): point it at the same stand-ins.
    from dataclasses import replace

    from restorers.analysis.metrics import METRICS

    monkeypatch.setitem(METRICS, "lpips", replace(METRICS["lpips"], weights=(fakes["VGG16_IMAGENET"],
                                                                           fakes["LPIPS_VGG_LINEAR"])))
    monkeypatch.setitem(METRICS, "identity", replace(METRICS["identity"], weights=(fakes["ARCFACE_R50"],)))
    perceptual.forget_network()
    identity.forget_network()
    yield hub_cache
    perceptual.forget_network()
    identity.forget_network()


def test_lpips_through_the_hub_cache(learned_cache) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    assert perceptual.lpips_vgg(a, a) == 0.0
    near = perceptual.lpips_vgg(a, b)
    far = perceptual.lpips_vgg(a, 255 - a)
    assert 0.0 < near < far
    assert perceptual.lpips_vgg(b, a) == pytest.approx(near, rel=1e-6)  # symmetric
    with pytest.raises(ValueError, match="at least 16x16"):
        perceptual.lpips_vgg(a[:8], a[:8])


def test_identity_plumbing_through_the_hub_cache(learned_cache) -> None:
    # Random weights: this checks the alignment, the embedding and the cosine, not what ArcFace knows.
    rng = np.random.default_rng(1)
    face = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert identity.identity_similarity(face, face) == pytest.approx(1.0, abs=1e-6)
    other = identity.identity_similarity(face, rng.integers(0, 256, face.shape, dtype=np.uint8))
    assert -1.0 <= other < 0.9999
    with pytest.raises(ValueError, match="one shape"):
        identity.identity_similarity(face, face[:64])


def test_missing_weights_name_the_file(hub_cache) -> None:
    perceptual.forget_network()
    identity.forget_network()
    with pytest.raises(hub.WeightsNotFoundError, match="vgg16-397923af.pth"):
        perceptual.load_network()
    with pytest.raises(hub.WeightsNotFoundError, match="ms1mv3_arcface_r50_fp16.pth"):
        identity.load_network()


# --- the registry, Degrade & Measure and Repeated Run ----------------------------------------------------

def test_missing_weights_are_not_suggested_and_say_which_file(hub_cache) -> None:
    from restorers.analysis import suggested_metrics
    from restorers.analysis.metrics import METRICS, metric_problem

    assert "vgg16-397923af.pth" in metric_problem("lpips") and "RESTORERS_WEIGHTS_DIR" in metric_problem("lpips")
    assert "ms1mv3_arcface_r50_fp16.pth" in metric_problem("identity")
    assert metric_problem("niqe") is None and metric_problem("ssim") is None  # nothing to download
    suggested = suggested_metrics()
    assert "lpips" not in suggested and "identity" not in suggested and "niqe" in suggested
    from restorers.analysis import loop_metrics

    assert loop_metrics((256, 256)) == ["ssim", "psnr", "uqi", "niqe"]  # Repeated Run: no identity without weights
    assert not METRICS["lpips"].higher_is_better and METRICS["identity"].higher_is_better
    assert not METRICS["niqe"].higher_is_better and not METRICS["niqe"].reference


def test_evaluate_refuses_a_metric_without_weights_before_any_model_runs(hub_cache, monkeypatch) -> None:
    from restorers.analysis.evaluate import evaluate as evaluate_module

    face = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    import sys

    monkeypatch.setattr(sys.modules["restorers.analysis.evaluate"], "make_restorer",
                        lambda *a, **k: pytest.fail("a model was built"))
    with pytest.raises(hub.WeightsNotFoundError, match="vgg16-397923af.pth"):
        evaluate_module([("a.png", face)], "downscale:2", ["bicubic"], metrics=["psnr", "lpips"])


def test_evaluate_table_and_csv_carry_the_new_scores(learned_cache) -> None:
    import csv
    import io

    from restorers.analysis import suggested_metrics
    from restorers.analysis.evaluate import evaluate
    from restorers.analysis.metrics import metric_problem

    assert metric_problem("lpips") is None and metric_problem("identity") is None  # the files are here now
    assert suggested_metrics()[-3:] == ["lpips", "identity", "niqe"]
    rng = np.random.default_rng(3)
    face = rng.integers(0, 256, (192, 192, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)  # one 96x96 block: NIQE undefined (NaN)
    result = evaluate([("face.png", face), ("small.png", small)], "downscale:2", ["bicubic"],
                      metrics=["psnr", "lpips", "identity", "niqe"])
    rows = list(csv.DictReader(io.StringIO(result.csv())))
    assert list(rows[0]) == ["image", "column", "metric", "value", "seconds", "resized_to_ground_truth", "better"]
    assert {r["metric"] for r in rows} == {"psnr", "lpips", "identity", "niqe"}
    better = {r["metric"]: r["better"] for r in rows}
    assert better == {"psnr": "higher", "lpips": "lower", "identity": "higher", "niqe": "lower"}
    niqe_values = {r["image"]: r["value"] for r in rows if r["metric"] == "niqe" and r["column"] == "bicubic"}
    assert niqe_values["small.png"] == "nan" and float(niqe_values["face.png"]) > 0
    lpips_rows = [float(r["value"]) for r in rows if r["metric"] == "lpips"]
    assert all(v > 0 for v in lpips_rows)  # nothing was restored exactly
    summary = result.summary()
    assert np.isfinite(summary["niqe"]["bicubic"][0])  # the small image's NaN is left out of the mean
    assert "LPIPS-VGG" in result.markdown() and "Identity" in result.markdown()


def test_repeated_run_scores_each_frame_with_niqe(learned_cache) -> None:
    from restorers.analysis import loop_metrics, run_loop

    image = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(
        __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "grace_hopper_face.png").convert("RGB"))
    assert loop_metrics(image.shape) == ["ssim", "psnr", "uqi", "identity", "niqe"]  # weights here: identity too
    assert loop_metrics((96, 96)) == ["ssim", "psnr", "uqi", "identity"]
    result = run_loop("lanczos", image, 2, 1.0, metrics=["ssim", "niqe", "lpips"])
    assert [sorted(s) for s in result.scores_vs_input] == [["lpips", "ssim"]] * 3
    assert [list(s) for s in result.scores_of_frame] == [["niqe"]] * 3
    assert result.scores_of_frame[0]["niqe"] == pytest.approx(3.3537857378098686, abs=1e-9)
    assert result.scores_vs_input[0]["lpips"] == 0.0
    plain = run_loop("lanczos", image, 1, 1.0)
    assert plain.scores_of_frame == [{}, {}]


def test_budget_counts_the_learned_scores() -> None:
    from restorers.analysis import budget

    base = budget.evaluate_cost([(1024, 1024)], "downscale:4", ["bicubic"], ["ssim"]).seconds
    learned = budget.evaluate_cost([(1024, 1024)], "downscale:4", ["bicubic"], ["ssim", "lpips", "identity", "niqe"])
    parts = dict(learned.largest(10))
    # two comparisons (the degraded baseline and bicubic) at 1 MP each
    assert parts["metric lpips"] == pytest.approx(2 * 14.0 * 1.048576 + 3.0)
    assert parts["metric identity"] == pytest.approx(2 * (0.05 * 1.048576 + 0.6) + 1.5)
    assert learned.seconds > base + 30
    loop = budget.loop_cost((512, 512), "lanczos", 3, 1.0, metrics=["ssim", "niqe"], ground_truth=True)
    assert dict(loop.largest(10))["metric niqe"] == pytest.approx(3 * 0.25 * 0.262144)  # once per frame, not per reference
