"""DCGAN training settings (no torch import, so the CLI can build its parser cheaply).

The defaults are the study's: the d2l.ai DCGAN chapter's settings (Adam, lr 0.005 for both networks, betas
(0.5, 0.999), latent size 100, batch 256, 20 epochs, 64 feature maps), scaled from 64 to 32 pixels as the
study did. The PyTorch DCGAN tutorial uses lr 0.0002 and batch 128 at 64 px.
"""
from __future__ import annotations

from dataclasses import dataclass

SIZES = (32, 64)
PRECISIONS = ("fp32", "channels_last", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    image_size: int = 32
    epochs: int = 20
    batch_size: int = 256
    lr_g: float = 0.005
    lr_d: float = 0.005
    beta1: float = 0.5
    beta2: float = 0.999
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    seed: int = 0
    stabilise: bool = False
    samples: int = 64  # fixed-noise samples drawn after every epoch
    # 'channels_last' (the default): fp32 in channels_last memory format, 1.15-1.5x faster than plain 'fp32'
    # on the 2-core CPU; 'bf16': channels_last + bfloat16 autocast, which trains these (transposed)
    # convolutions about 1.7x SLOWER there (benchmarks/bench_dcgan.py; numbers in the README).
    precision: str = "channels_last"
    device: str | None = None

    def check(self) -> None:
        """Raise ValueError, in words, for any setting out of range."""
        if self.image_size not in SIZES:
            raise ValueError(f"image size must be 32 or 64, got {self.image_size}")
        for name, low, high in (("epochs", 1, 1000), ("batch_size", 2, 4096), ("nz", 1, 1024), ("ngf", 4, 512),
                                ("ndf", 4, 512), ("samples", 1, 256)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name.replace('_', ' ')} must be between {low} and {high}, got {value}")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"learning rate {name[-1].upper()} must be in (0, 1], got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"Adam {name} must be in [0, 1), got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")


STUDY_DEFAULTS = TrainConfig()
