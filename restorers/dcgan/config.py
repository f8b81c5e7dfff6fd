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
    # convolutions about 1.7x SLOWER there (benchmarks/bench_dcgan.py; numbers in docs/benchmarks.md).
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
# The tab's first demo (the 32 bundled example crops): at the study's batch 256 an epoch of 32 images is one
# iteration, so 20 epochs are 20 steps and the samples stay noise. Batch 8, 50 epochs and lr 0.001 give 200
# steps that turn noise into face-coloured blobs in under a minute on 2 cores (measured; see docs/dcgan.md).
EXAMPLE_DEFAULTS = TrainConfig(batch_size=8, epochs=50, lr_g=0.001, lr_d=0.001)
SMALL_DATA_ITERATIONS = 4  # a batch larger than the data is cut so an epoch has about this many iterations


def fit_batch(images: int, batch_size: int) -> tuple[int, str]:
    """The batch to train `images` images with, and a note in words when it differs from `batch_size`.

    A batch larger than the whole data set would make every epoch a single iteration (the study's batch 256
    on a few dozen images): it is cut to the largest power of two giving about SMALL_DATA_ITERATIONS
    iterations per epoch (at least 2 images, for batch norm)."""
    if batch_size <= images:
        return batch_size, ""
    fitted = 2
    while fitted * 2 * SMALL_DATA_ITERATIONS <= images:
        fitted *= 2
    return fitted, f"batch {batch_size} is larger than the {images} images: using {fitted}"
