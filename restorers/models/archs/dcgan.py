"""DCGAN generator and discriminator (Radford, Metz & Chintala 2015) for 32 and 64 pixel images.

Written to the paper's rules: no pooling and no fully connected hidden layers (strided convolutions
down, transposed convolutions up), batch norm in every block except the generator's output and the
discriminator's input, ReLU in the generator with tanh at its output, LeakyReLU(0.2) in the
discriminator. Each network is one flat ``nn.Sequential`` called ``main``, as in the PyTorch DCGAN
tutorial, so the tutorial's checkpoints load as they are (``main.0.weight``, ``main.1.running_mean``,
...). At 64 px with nz=100 and 64 feature maps the generator is exactly the tutorial's.

Every image side 2**k >= 8 works: a 4x4 seed from the latent, then one stride-2 block per doubling.
The discriminator returns logits (no sigmoid) so training can use the numerically stable
``binary_cross_entropy_with_logits``; a sigmoid has no parameters, so the key layout is unchanged.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

SIZES = (32, 64)


def _doublings(image_size: int) -> int:
    """How many stride-2 blocks take 4x4 to image_size (3 for 32 px, 4 for 64 px)."""
    k = int(round(math.log2(image_size))) if image_size > 0 else 0
    if image_size < 8 or 2**k != image_size:
        raise ValueError(f"image size must be a power of two of at least 8 (32 or 64), got {image_size}")
    return k - 2


class DCGANGenerator(nn.Module):
    """z [N, nz, 1, 1] (or [N, nz]) -> image [N, nc, size, size] in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.nz, self.ngf, self.nc, self.image_size = nz, ngf, nc, image_size
        blocks = _doublings(image_size)
        channels = ngf * 2 ** (blocks - 1)  # 512 at 64 px, 256 at 32 px (ngf=64)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, channels, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """image [N, nc, size, size] in [-1, 1] -> one real/fake logit per image, shape [N]."""

    def __init__(self, ndf: int = 64, nc: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.ndf, self.nc, self.image_size = ndf, nc, image_size
        blocks = _doublings(image_size)
        layers: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        channels = ndf
        for _ in range(blocks - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))  # 4x4 -> 1x1 logit
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02) and bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


MAX_WIDTH = 2048  # nz, ngf, ndf: the tutorial uses 100 and 64
MAX_IMAGE_SIZE = 512


def generator_config(state_dict: Mapping[str, Any]) -> dict[str, int]:
    """Read (nz, ngf, nc, image_size) from a generator state_dict in the ``main.N.*`` layout.

    Raises ValueError, in words, when the keys or shapes are not a DCGAN generator's.
    """
    weights = [(int(k.split(".")[1]), v) for k, v in state_dict.items()
               if k.startswith("main.") and k.endswith(".weight") and getattr(v, "ndim", 0) == 4]
    if not weights:
        raise ValueError("not a DCGAN generator: no 'main.N.weight' transposed-convolution weights found")
    weights.sort(key=lambda item: item[0])
    convs = [w for _, w in weights]
    nz = int(convs[0].shape[0])
    nc = int(convs[-1].shape[1])
    ngf = int(convs[-2].shape[1]) if len(convs) > 1 else 0
    image_size = 4 * 2 ** (len(convs) - 1)
    if len(convs) < 2 or any(tuple(w.shape[2:]) != (4, 4) for w in convs):
        raise ValueError("not a DCGAN generator: expected 4x4 transposed convolutions in 'main'")
    # Shapes are only declarations: a zero-stride view in the file can claim any size over one stored number,
    # so the network built from them is bounded here, before anything is allocated.
    if not (1 <= nz <= MAX_WIDTH and 1 <= ngf <= MAX_WIDTH and 1 <= nc <= 4 and image_size <= MAX_IMAGE_SIZE):
        raise ValueError(f"not a DCGAN generator this app builds: nz={nz}, ngf={ngf}, nc={nc}, image size {image_size} "
                         f"(at most {MAX_WIDTH} channels, 4 colours, {MAX_IMAGE_SIZE} px)")
    return {"nz": nz, "ngf": ngf, "nc": nc, "image_size": image_size}
