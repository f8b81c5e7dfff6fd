"""Your own checkpoint as a model: a community ESRGAN-family or face-restoration .pth / .safetensors file.

The architecture and its configuration come from the state_dict's key names and tensor shapes alone
(restorers.detect_arch), never from the file name. The file is size-checked before it is read, read
without running code (weights_only / safetensors), and the network its shapes describe is counted on
the meta device before anything is allocated (limits.py). The result is a ModelSpec that runs beside
the built-in models with the same options: SR models tile, face models use the face pipeline.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..guards import limits
from ..guards.validate import shorten
from .detect_arch import ARCH_FAMILY, UnrecognisedCheckpointError, codeformer_task, detect
from .hub import WeightsCorruptError, read_checkpoint, sha256_of, unwrap_state_dict
from .registry import ModelSpec

SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
# Wrappers seen in published files: BasicSR ('params_ema', 'params'), GPEN/plain ('state_dict'), others ('model').
STATE_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
ARCH_TITLES = {"rrdbnet": "RRDBNet", "srvgg": "SRVGGNetCompact", "gpen": "GPEN", "gfpgan": "GFPGAN",
               "codeformer": "CodeFormer"}


class CheckpointError(ValueError):
    """A user's checkpoint cannot be used; the message says why in words."""


def _build(arch: str, config: dict[str, Any]) -> nn.Module:
    from . import registry

    factory = {"rrdbnet": registry._rrdbnet, "srvgg": registry._srvgg, "gpen": registry._gpen,
               "gfpgan": registry._gfpgan, "codeformer": registry._codeformer}[arch]
    return factory(**config)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Size check -> safe read -> the state_dict inside (wrappers and 'module.' prefixes removed)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path.name}")
    if path.suffix.lower() not in SUFFIXES:
        raise CheckpointError(f"'{path.name}' is not a checkpoint file (expected {', '.join(SUFFIXES)})")
    size, limit = path.stat().st_size, limits.max_checkpoint_bytes()
    if size > limit:
        raise CheckpointError(f"'{path.name}' is {size / 2**20:.0f} MB; checkpoints up to {limit / 2**20:.0f} MB are "
                              f"accepted here (${limits.MAX_CHECKPOINT_MB_ENV} raises it)")
    if path.suffix.lower() == ".safetensors":
        try:
            import safetensors  # noqa: F401
        except ImportError:
            raise CheckpointError(".safetensors files need the 'safetensors' package, which is not installed "
                                  "here (pip install safetensors), or save the weights as a .pth") from None
    try:
        checkpoint = read_checkpoint(path)
        state = unwrap_state_dict(checkpoint, STATE_KEYS)
    except limits.LimitError as exc:  # refused before unpickling (guards.pickle_scan): its own words
        raise CheckpointError(str(exc)) from None
    except WeightsCorruptError as exc:
        reason = str(exc).split(" is not a readable checkpoint ", 1)[-1]
        raise CheckpointError(f"'{path.name}' is not a readable PyTorch checkpoint {reason}".rstrip()) from None
    return state


def check_arch_bounds(arch: str, config: dict[str, Any], source: str = "checkpoint") -> None:
    """Refuse a depth or width past limits.CHECKPOINT_ARCH_BOUNDS before anything is built: a thin network
    can pass the parameter limit and still take minutes per image through thousands of layers."""
    for key, bound in limits.CHECKPOINT_ARCH_BOUNDS.get(arch, {}).items():
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > bound:
            raise CheckpointError(f"{source}: describes a {ARCH_TITLES[arch]} with {key} = {value:g}; at most {bound} "
                                  f"is accepted here (the published models use far less)")


def inspect_state_dict(state: dict[str, torch.Tensor], source: str = "checkpoint") -> tuple[str, dict[str, Any], dict]:
    """(arch, config, state_dict in the current layout), checked: every tensor accounted for, size bounded."""
    try:
        arch, config, state = detect(state)
    except UnrecognisedCheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    check_arch_bounds(arch, config, source)
    # Count the described network on the meta device first: shapes in a small file can describe a huge one.
    try:
        with torch.device("meta"):
            meta = _build(arch, config)
    except Exception as exc:  # noqa: BLE001 - an inconsistent config, in words
        raise CheckpointError(f"{source}: looks like {ARCH_TITLES[arch]} {shorten(config)}, but that network "
                              f"cannot be built ({shorten(exc)})") from None
    params = sum(t.numel() for t in meta.state_dict().values())
    if params > limits.max_checkpoint_params():
        raise CheckpointError(f"{source}: describes a {ARCH_TITLES[arch]} of {params / 1e6:.0f} M parameters; up to "
                              f"{limits.max_checkpoint_params() / 1e6:.0f} M are accepted "
                              f"(${limits.MAX_CHECKPOINT_PARAMS_ENV} raises it)")
    expected = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or extra or wrong:
        parts = [f"{len(missing)} missing (e.g. {shorten(missing[0])})" if missing else "",
                 f"{len(extra)} unexpected (e.g. {shorten(extra[0])})" if extra else "",
                 f"{len(wrong)} of another shape (e.g. {shorten(wrong[0])}: {shorten(tuple(state[wrong[0]].shape))}, "
                 f"expected {expected[wrong[0]]})" if wrong else ""]
        raise CheckpointError(f"{source}: looks like {ARCH_TITLES[arch]} {config}, but its tensors do not fit that "
                              f"network: {'; '.join(p for p in parts if p)}")
    broken = non_finite_keys(state)
    if broken:
        # NaN or infinite weights make NaN pixels, which a PNG would show as a silent black image.
        raise CheckpointError(f"{source}: {len(broken)} tensor(s) hold NaN or infinite values (e.g. "
                              f"{shorten(broken[0])}); the output would not be finite, so the file is refused")
    return arch, config, state


def non_finite_keys(state: dict[str, torch.Tensor]) -> list[str]:
    """Keys of the floating-point tensors in ``state`` that hold a NaN or an infinity."""
    return [key for key, tensor in state.items()
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.device.type != "meta"
            and not bool(torch.isfinite(tensor).all())]  # meta tensors (shapes only) have no values to check


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "checkpoint"


def checkpoint_spec(path: str | Path) -> ModelSpec:
    """A ModelSpec for a checkpoint file: detected architecture, config, family, scale / face size.

    Its network is built from the same file on first use (and again if the model cache dropped it); the
    file's sha256 is pinned now, so a file changed in between is refused rather than half-trusted.
    """
    path = Path(path)
    state = read_state_dict(path)
    arch, config, _ = inspect_state_dict(state, f"'{path.name}'")
    digest = sha256_of(path)
    family = ARCH_FAMILY[arch]

    def load(_: object) -> nn.Module:
        if sha256_of(path) != digest:
            raise CheckpointError(f"'{path.name}' changed since it was loaded; load it again")
        _, _, converted = inspect_state_dict(read_state_dict(path), f"'{path.name}'")
        net = _build(arch, config)
        net.load_state_dict(converted, strict=True)
        return net

    what = f"x{config.get('scale', config.get('upscale', 1))}" if family == "sr" else \
        f"{config.get('size', config.get('out_size', 512))} px faces"
    face = family == "face"
    task = codeformer_task(config) if arch == "codeformer" else "restore"
    if task != "restore":
        what = f"{'inpainting' if task == 'inpaint' else 'colourisation'}, {what}"
    return ModelSpec(
        name=f"own-{_slug(path.stem)}-{digest[:8]}",
        title=f"{path.stem} ({ARCH_TITLES[arch]} {what}, your checkpoint)",
        family=family,  # type: ignore[arg-type]
        loader=load,
        config=config,
        scale=int(config.get("scale", config.get("upscale", 1))) if not face else 1,
        input_size=int(config.get("size", config.get("out_size", 512))) if face else None,
        value_range=(-1.0, 1.0) if face else (0.0, 1.0),
        seeded_noise=arch == "gfpgan",
        fidelity=arch == "codeformer" and task == "restore",
        face_task=task,  # type: ignore[arg-type]
        licence="your checkpoint's own licence",
        description=f"{ARCH_TITLES[arch]} detected from the tensors of {path.name} (sha256 {digest[:12]}...): {config}",
    )
