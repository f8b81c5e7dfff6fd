"""CodeFormer through the engine: a tiny checkpoint in a temporary hub cache (the real hub path), the
fidelity weight through the Python API, fidelity sweeps (encode once, one result per w), bad weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import restorers
from conftest import require_shared
from hubcache import add_file, checkpoint_bytes
from restorers.media import images
from restorers.models import networks
from restorers.models.registry import CODEFORMER, ModelSpec, get_spec

TINY = dict(dim_embd=32, n_head=4, n_layers=2, codebook_size=16, connect_list=["32", "64", "128", "256"],
            vq_nf=32, vq_ch_mult=(1, 1, 1, 1, 1, 1), vq_emb_dim=32)


def tiny_state_dict() -> dict:
    torch.manual_seed(0)
    net = CODEFORMER.build(**TINY)
    with torch.no_grad():  # non-zero biases and positions, so every term is active
        for p in net.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
        net.position_emb.normal_(0, 0.5)
    return net.state_dict()


@pytest.fixture()
def tiny_codeformer(hub_cache) -> ModelSpec:
    # Wrapped as the published file is ({'params_ema': ...}), at the registry's own repo path.
    weights = add_file(hub_cache, "tiny/codeformer", CODEFORMER.weights.filename,
                       checkpoint_bytes(tiny_state_dict(), wrap="params_ema"))
    return ModelSpec(name="tiny-codeformer", title="tiny CodeFormer", family="face", build=CODEFORMER.build,
                     config=TINY, weights=weights, state_keys=CODEFORMER.state_keys, input_size=512,
                     value_range=(-1.0, 1.0), fidelity=True)


@pytest.fixture(scope="module")
def aligned_face() -> np.ndarray:
    return images.load_image(require_shared("faces", "gfpgan-cropped", "Adele_crop.png")).rgb


def test_registry_entry_is_pinned_and_licensed() -> None:
    spec = get_spec("codeformer")
    assert spec.family == "face" and spec.fidelity and spec.input_size == 512
    assert (spec.weights.repo_id, spec.weights.filename) == ("fofr/comfyui", "facerestore_models/codeformer.pth")
    assert spec.weights.sha256 == "1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7"
    assert spec.weights.size == 376_637_898 and spec.state_keys == ("params_ema",)
    assert "S-Lab License 1.0" in spec.licence and "non-commercial" in spec.licence
    assert "codeformer" in restorers.available_models("face")


def test_aligned_fidelity_equals_the_bare_network(tiny_codeformer, aligned_face):
    restorer = restorers.load(tiny_codeformer, device="cpu", precision="fp32")
    result = restorer.restore(aligned_face, mode="aligned", fidelity=0.7)
    assert result.image.shape == (512, 512, 3) and result.model == "tiny-codeformer"
    with torch.inference_mode():
        out = restorer.network(images.to_tensor(aligned_face, (-1, 1)), w=0.7, adain=True)[0]
    direct = images.from_tensor(out, (-1, 1))[0]
    assert np.abs(result.image.astype(int) - direct.astype(int)).max() <= 1


def test_sweep_encodes_once_and_labels_each_weight(tiny_codeformer, aligned_face):
    networks.clear_cache()
    before = networks.load_count.get("tiny-codeformer", 0)
    results = restorers.restore_sweep(aligned_face, tiny_codeformer, [0, 1], device="cpu", precision="fp32",
                                      mode="aligned")
    assert [r.model for r in results] == ["tiny-codeformer (w=0)", "tiny-codeformer (w=1)"]
    assert networks.load_count["tiny-codeformer"] == before + 1  # loaded once for both weights
    assert all(r.seconds > 0 for r in results)
    assert np.abs(results[0].image.astype(int) - results[1].image.astype(int)).max() > 0
    single = restorers.restore(aligned_face, tiny_codeformer, device="cpu", precision="fp32", mode="aligned",
                               fidelity=1.0)
    assert np.abs(single.image.astype(int) - results[1].image.astype(int)).max() <= 1


def test_whole_photo_sweep_pastes_the_same_faces(tiny_codeformer):
    photo = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    photo = images.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), "area")
    results = restorers.restore_sweep(photo, tiny_codeformer, [0.0, 0.5], device="cpu", mode="whole",
                                      only_center_face=True, outscale=1, background="none")
    assert [r.model for r in results] == ["tiny-codeformer (w=0)", "tiny-codeformer (w=0.5)"]
    assert len(results[0].faces) == len(results[1].faces) == 1
    assert results[0].image.shape == results[1].image.shape == photo.shape
    assert not np.array_equal(results[0].image, results[1].image)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "strong"])
def test_fidelity_outside_0_1_is_a_clear_error(tiny_codeformer, aligned_face, bad):
    with pytest.raises(ValueError, match="fidelity must be"):
        restorers.restore(aligned_face, tiny_codeformer, device="cpu", mode="aligned", fidelity=bad)
    with pytest.raises(ValueError, match="fidelity must be"):
        restorers.restore_sweep(aligned_face, tiny_codeformer, [0.5, bad], device="cpu", mode="aligned")
