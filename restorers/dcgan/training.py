"""DCGAN training as a plain Python generator of events: the CLI prints them, the app draws them, the
tests assert on them. No UI code here.

    for event in train(images, TrainConfig(epochs=2)):
        if isinstance(event, Iteration): ...      # losses of one iteration (raw and smoothed)
        elif isinstance(event, Note): ...         # e.g. the discriminator's loss collapsed
        elif isinstance(event, EpochEnd): ...     # samples from the fixed noise, epoch means, time left
        elif isinstance(event, Done): ...         # the trained model and the whole loss history

The defaults are the study's: the d2l.ai DCGAN chapter's settings (Adam, lr 0.005 for both networks,
betas (0.5, 0.999), latent size 100, batch 256, 20 epochs, 64 feature maps) scaled from 64 to 32 pixels.
On CPU a run is deterministic for a given seed (weights, data order and noise all come from it).
Stopping: stop iterating (the generator is simply dropped), or pass ``stop`` (a threading.Event or any
callable returning True) to finish after the current iteration with a Done event and the model so far.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..models.archs.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights
from .model import DCGANModel, sample_grid, to_uint8
from .config import STUDY_DEFAULTS, TrainConfig, fit_batch
from .data import DatasetError, ImageSet
from ..models.runtime import pick_device

SMOOTHING = 0.1  # weight of the newest value in the smoothed (exponential moving average) losses
# Collapse: the smoothed discriminator loss (above the floor its labels allow) stays under this for
# COLLAPSE_PATIENCE iterations while the smoothed generator loss is above COLLAPSE_G (D(G(z)) < ~8%).
COLLAPSE_D = 0.05
COLLAPSE_G = 2.5
COLLAPSE_PATIENCE = 10
SMOOTH_REAL_LABEL = 0.9  # one-sided label smoothing (Salimans et al. 2016) when stabilising
INSTANCE_NOISE = 0.1  # std of the noise added to D's inputs when stabilising, decayed to 0 over the run
# Adam as one fused kernel per step ("0" turns it off: the per-parameter loop of plain torch.optim.Adam).
# On the shared 2-core CPU the plain loop's ~200 small ops per step took 1.6 s under load against 2 ms
# fused (every op waits at its thread pool's barrier); same update rule, float rounding aside.
FUSED_ADAM_ENV = "RESTORERS_DCGAN_FUSED_ADAM"

COLLAPSE_NOTE = (
    "The discriminator's loss has collapsed towards 0 while the generator's keeps rising: the discriminator "
    "wins, telling real from generated images almost perfectly. Its output saturates, so the gradients it "
    "sends back to the generator vanish and the generator stops learning (this is what the study saw). "
    "Try 'stabilise' (one-sided label smoothing and instance noise), a lower discriminator learning rate, "
    "or the PyTorch tutorial's lr 0.0002."
)




@dataclass
class Started:
    images: int
    iterations_per_epoch: int
    total_iterations: int
    device: str
    config: TrainConfig  # as trained: batch_size is the effective batch
    batch_note: str = ""  # in words, when a batch larger than the data was cut (dcgan_config.fit_batch)


@dataclass
class Iteration:
    epoch: int  # 1-based
    iteration: int  # 1-based, counted over the whole run
    loss_d: float  # (BCE on real + BCE on fake) / 2, as d2l reports it
    loss_g: float  # BCE of D(G(z)) against "real"
    loss_d_smooth: float
    loss_g_smooth: float
    d_real: float  # mean D(x): the discriminator's probability that real images are real
    d_fake: float  # mean D(G(z)) before the discriminator's update
    elapsed: float  # seconds since the start
    seconds_left: float
    images_per_second: float

    def row(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items()}


@dataclass
class Note:
    iteration: int
    text: str
    kind: str = "collapse"


@dataclass
class EpochEnd:
    epoch: int
    epochs: int
    samples: np.ndarray  # [samples, H, W, 3] uint8 from the fixed noise, generator in eval mode
    grid: np.ndarray  # the samples on one grid
    loss_d: float  # means over the epoch
    loss_g: float
    seconds: float  # this epoch
    seconds_left: float


@dataclass
class Done:
    model: DCGANModel
    rows: list[dict[str, float]] = field(default_factory=list)  # one per iteration (Iteration.row())
    stopped: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


Event = Started | Iteration | Note | EpochEnd | Done


class CollapseDetector:
    """Watches the smoothed losses and says once when the discriminator has won (see COLLAPSE_NOTE)."""

    def __init__(self, real_label: float) -> None:
        # With a soft real label the real half of D's loss cannot go below the label's entropy.
        p = real_label
        entropy = 0.0 if p >= 1.0 else -(p * math.log(p) + (1 - p) * math.log(1 - p))
        self.floor = entropy / 2
        self.run = 0
        self.fired = False

    def update(self, loss_d_smooth: float, loss_g_smooth: float) -> bool:
        collapsed = loss_d_smooth - self.floor < COLLAPSE_D and loss_g_smooth > COLLAPSE_G
        self.run = self.run + 1 if collapsed else 0
        if self.run >= COLLAPSE_PATIENCE and not self.fired:
            self.fired = True
            return True
        return False


def _batches(n: int, batch_size: int) -> int:
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 or full == 0 else 0)  # a last batch of one image is dropped (batch norm)


def _to_batch(images: np.ndarray, index: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    batch = torch.from_numpy(images[index.numpy()]).to(device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch.contiguous()


def fused_adam_enabled(device: torch.device) -> bool:
    """Whether training uses the fused Adam kernel: on CPU and CUDA, unless $RESTORERS_DCGAN_FUSED_ADAM=0."""
    return device.type in ("cpu", "cuda") and os.environ.get(FUSED_ADAM_ENV, "1").strip() != "0"


def _adam(params: Iterator[torch.nn.Parameter], lr: float, betas: tuple[float, float],
          device: torch.device) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True if fused_adam_enabled(device) else None)


def train(data: ImageSet | np.ndarray, config: TrainConfig = STUDY_DEFAULTS,
          stop: Callable[[], bool] | Any | None = None) -> Iterator[Event]:
    """Train a DCGAN on square uint8 images [N, S, S, 3] (S = config.image_size); yields events."""
    config.check()
    images = data.images if isinstance(data, ImageSet) else np.asarray(data)
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise DatasetError(f"training images must be uint8 [N, H, W, 3], got {images.dtype} {tuple(images.shape)}")
    if images.shape[1:3] != (config.image_size, config.image_size):
        raise DatasetError(f"the images are {images.shape[2]}x{images.shape[1]} but the model is "
                           f"{config.image_size}x{config.image_size}; load them at that size")
    if len(images) < 2:
        raise DatasetError(f"need at least 2 training images, got {len(images)}")
    should_stop = getattr(stop, "is_set", stop) or (lambda: False)
    # A batch larger than the data would give one iteration per epoch: cut it (and say so in Started).
    batch_size, batch_note = fit_batch(len(images), config.batch_size)
    config = replace(config, batch_size=batch_size)

    device = pick_device(config.device)
    fast = config.precision in ("channels_last", "bf16")  # channels_last memory format for both networks
    bf16 = config.precision == "bf16"
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    with torch.random.fork_rng(devices=[]):  # the seed fixes the weights without touching the caller's RNG
        torch.manual_seed(config.seed)
        G = DCGANGenerator(config.nz, config.ngf, 3, config.image_size)
        D = DCGANDiscriminator(config.ndf, 3, config.image_size)
        G.apply(init_weights)
        D.apply(init_weights)
    G.to(device).train()
    D.to(device).train()
    if fast:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    opt_g = _adam(G.parameters(), config.lr_g, (config.beta1, config.beta2), device)
    opt_d = _adam(D.parameters(), config.lr_d, (config.beta1, config.beta2), device)
    data_rng = torch.Generator().manual_seed(config.seed)
    noise_rng = torch.Generator().manual_seed(config.seed + 1)
    fixed_noise = torch.randn(config.samples, config.nz, 1, 1, generator=torch.Generator().manual_seed(config.seed + 2))
    real_label = SMOOTH_REAL_LABEL if config.stabilise else 1.0
    detector = CollapseDetector(real_label)

    n = len(images)
    per_epoch = _batches(n, config.batch_size)
    total = per_epoch * config.epochs
    yield Started(n, per_epoch, total, str(device), config, batch_note)

    rows: list[dict[str, float]] = []
    notes: list[str] = []
    smooth_d = smooth_g = float("nan")
    step = seen = 0
    start = time.perf_counter()
    stopped = False
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        order = torch.randperm(n, generator=data_rng)
        sums = [0.0, 0.0]
        done_in_epoch = 0
        for b in range(per_epoch):
            if should_stop():
                stopped = True
                break
            index = order[b * config.batch_size : (b + 1) * config.batch_size]
            real = _to_batch(images, index, device, fast)
            count = real.shape[0]
            z = torch.randn(count, config.nz, 1, 1, generator=noise_rng).to(device)
            sigma = INSTANCE_NOISE * (1 - step / total) if config.stabilise else 0.0

            def noisy(x: torch.Tensor) -> torch.Tensor:
                return x + sigma * torch.randn(x.shape, generator=noise_rng).to(device) if sigma > 0 else x

            with autocast():
                fake = G(z)
                logits_real = D(noisy(real)).float()
                logits_fake = D(noisy(fake.detach())).float()
            loss_d = (F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, real_label))
                      + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))) / 2
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast():
                logits_gen = D(noisy(fake)).float()
            loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()

            step += 1
            done_in_epoch += 1
            ld, lg = float(loss_d.detach()), float(loss_g.detach())
            smooth_d = ld if math.isnan(smooth_d) else (1 - SMOOTHING) * smooth_d + SMOOTHING * ld
            smooth_g = lg if math.isnan(smooth_g) else (1 - SMOOTHING) * smooth_g + SMOOTHING * lg
            sums[0] += ld
            sums[1] += lg
            seen += count
            elapsed = time.perf_counter() - start
            event = Iteration(epoch, step, ld, lg, smooth_d, smooth_g,
                              float(torch.sigmoid(logits_real.detach()).mean()),
                              float(torch.sigmoid(logits_fake.detach()).mean()),
                              elapsed, elapsed / step * (total - step), seen / max(elapsed, 1e-9))
            rows.append(event.row())
            yield event
            if not (math.isfinite(ld) and math.isfinite(lg)):
                notes.append("the losses became NaN/inf: training stopped; try a lower learning rate")
                yield Note(step, notes[-1], kind="diverged")
                stopped = True
                break
            if detector.update(smooth_d, smooth_g):
                notes.append(COLLAPSE_NOTE)
                yield Note(step, COLLAPSE_NOTE)
        if done_in_epoch:
            G.eval()
            with torch.inference_mode(), autocast():
                samples = to_uint8(G(fixed_noise.to(device)).float())
            G.train()
            elapsed = time.perf_counter() - start
            yield EpochEnd(epoch, config.epochs, samples, sample_grid(samples, cell=64 if config.image_size < 64 else None),
                           sums[0] / done_in_epoch, sums[1] / done_in_epoch, time.perf_counter() - epoch_start,
                           elapsed / step * (total - step))
        if stopped:
            break

    G.eval().requires_grad_(False)
    G.to(memory_format=torch.contiguous_format)
    D.eval().requires_grad_(False)
    D.to(memory_format=torch.contiguous_format)
    history = {"loss_d": [r["loss_d"] for r in rows], "loss_g": [r["loss_g"] for r in rows]}
    model_config = {"nz": config.nz, "ngf": config.ngf, "ndf": config.ndf, "nc": 3, "image_size": config.image_size,
                    "train": {k: v for k, v in asdict(config).items() if k != "device"}, "iterations": step,
                    "images": n}
    model = DCGANModel(G.cpu(), D.cpu(), model_config, "restorers-dcgan", fixed_noise, history)
    yield Done(model, rows, stopped, time.perf_counter() - start, notes)
