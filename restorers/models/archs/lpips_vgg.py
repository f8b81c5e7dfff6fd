"""LPIPS v0.1 with a VGG16 trunk (Zhang, Isola, Efros, Shechtman & Wang, CVPR 2018), in plain PyTorch.

The distance between two images is the sum over five VGG16 layers (relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3) of the spatial mean of w_l . (f0_l - f1_l)^2, where f are the channel-normalised activations and
w_l >= 0 are the "linear" 1x1 layers calibrated on human judgements (BAPPS).

Two published files make the network, and their key names are kept so each loads strictly:
- the trunk: torchvision's ImageNet VGG16 (vgg16-397923af.pth): ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}
  .{weight,bias}`` (3x3 convolutions 3->64, 64->64, 64->128, 128->128, 128->256, 256->256 x2, 256->512,
  512->512 x5); its ``classifier.*`` tensors are not used;
- the linear layers: the LPIPS release's v0.1 vgg.pth: ``lin{0..4}.model.1.weight`` of shape (1, C, 1, 1),
  C = 64, 128, 256, 512, 512 (index 1 because the release puts a Dropout at index 0).
"""
from __future__ import annotations

import torch
from torch import nn

# torchvision's VGG16 configuration up to relu5_3 ("M" = 2x2 max pool), and where LPIPS taps it.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in `features`
CHANNELS = (64, 128, 256, 512, 512)
# The LPIPS ScalingLayer: inputs in [-1, 1] are shifted and scaled to the trunk's ImageNet statistics.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG16:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class LinearLayer(nn.Module):
    """One LPIPS weighting: a bias-free 1x1 convolution to one channel (``model.1``; ``model.0`` is the
    release's dropout, an identity at inference)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSVGG(nn.Module):
    """LPIPS distance with the VGG16 trunk: forward(x0, x1) on N x 3 x H x W in [-1, 1] gives N distances.

    ``trunk_state_dict()`` / ``lin_state_dict()`` name the two halves as the published files do; load them
    with ``load_trunk`` and ``load_lins`` (strict: a wrong file raises ValueError naming the keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _features()
        for k, channels in enumerate(CHANNELS):
            self.add_module(f"lin{k}", LinearLayer(channels))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    @property
    def lins(self) -> list[LinearLayer]:
        return [getattr(self, f"lin{k}") for k in range(len(CHANNELS))]

    def trunk_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if k.startswith("features.")}

    def lin_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if k.startswith("lin")}

    def load_trunk(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load torchvision's VGG16 file; its classifier.* tensors are ignored, anything else must match."""
        given = {k: v for k, v in state_dict.items() if k.startswith("features.")}
        extra = [k for k in state_dict if not k.startswith(("features.", "classifier."))]
        _check(self.trunk_state_dict(), given, extra, "VGG16 trunk (torchvision vgg16-397923af.pth)")
        self.features.load_state_dict({k.removeprefix("features."): v for k, v in given.items()}, strict=True)

    def load_lins(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load the LPIPS v0.1 vgg.pth linear layers."""
        wanted = self.lin_state_dict()
        _check(wanted, dict(state_dict), [k for k in state_dict if k not in wanted], "LPIPS v0.1 vgg.pth layers")
        self.load_state_dict(state_dict, strict=False)

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five channel-normalised activations of an input in [-1, 1]."""
        h = (x - self.shift) / self.scale
        out = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in TAPS:
                out.append(h / (torch.sqrt(torch.sum(h * h, dim=1, keepdim=True)) + 1e-10))
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        total = x0.new_zeros(x0.shape[0])
        # The two inputs go through the trunk one after the other: half the peak memory of one batch of two.
        for f0, f1, lin in zip(self.taps(x0), self.taps(x1), self.lins):
            total = total + lin((f0 - f1) ** 2).mean(dim=(1, 2, 3))
        return total


def _check(wanted: dict[str, torch.Tensor], given: dict[str, torch.Tensor], extra: list[str], what: str) -> None:
    missing = sorted(k for k in wanted if k not in given)
    wrong = sorted(f"{k} {tuple(given[k].shape)} (expected {tuple(v.shape)})" for k, v in wanted.items()
                   if k in given and tuple(given[k].shape) != tuple(v.shape))
    if missing or wrong or extra:
        raise ValueError(f"not the {what}: missing {missing[:5]}, wrong shapes {wrong[:5]}, unexpected {sorted(extra)[:5]}")
