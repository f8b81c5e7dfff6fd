"""DCGAN networks: shapes at 32 and 64 px, and the real trained 64 px generator from ../shared (the PyTorch
DCGAN tutorial's layout) loading strictly and reproducing its own package's reference samples."""
from __future__ import annotations

import hashlib

import pytest
import torch

from conftest import require_shared
from restorers.models.archs.dcgan import DCGANDiscriminator, DCGANGenerator, generator_config

FIXTURE_SHA256 = "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f"


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_layers(size):
    g, d = DCGANGenerator(nz=16, ngf=8, image_size=size), DCGANDiscriminator(ndf=8, image_size=size)
    z = torch.randn(3, 16, 1, 1)
    image = g(z)
    assert image.shape == (3, 3, size, size)
    assert image.abs().max() <= 1.0  # tanh output
    assert d(image).shape == (3,)
    # The paper's rules: no pooling, no linear layers; transposed convs up, strided convs down.
    kinds = {type(m).__name__ for m in [*g.modules(), *d.modules()]}
    assert not kinds & {"MaxPool2d", "AvgPool2d", "Linear"}
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == {32: 4, 64: 5}[size]
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}


def test_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(image_size=48)


def test_real_generator_loads_strictly_and_reproduces_reference():
    path = require_shared("weights", "fixtures", "dcgan-digiface1m-64.pth")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FIXTURE_SHA256
    state = torch.load(path, map_location="cpu", weights_only=True)["netG_state_dict"]
    assert generator_config(state) == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    g = DCGANGenerator(nz=100, ngf=64, nc=3, image_size=64)
    g.load_state_dict(state, strict=True)
    reference = torch.load(require_shared("weights", "fixtures", "dcgan-digiface1m-64-reference.pt"),
                           map_location="cpu", weights_only=True)
    with torch.inference_mode():
        out = g.eval()(reference["z"])
    assert out.shape == (16, 3, 64, 64)
    assert (out - reference["output"]).abs().max().item() <= 1e-5
    assert out.std().item() > 0.1  # real faces, not a constant


def test_generator_config_refuses_other_networks():
    with pytest.raises(ValueError, match="not a DCGAN generator"):
        generator_config({"body.0.weight": torch.zeros(3, 3, 3, 3)})
