"""restorers: GAN face restoration (GPEN, GFPGAN, Real-ESRGAN) and StyleGAN2-ADA, in pure PyTorch.

Public API::

    import restorers
    restorers.available_models()                      # names, in registry order
    r = restorers.load("realesrgan-x4plus")           # device/precision default to the fastest available
    result = r.restore("photo.jpg", outscale=2)       # RestoreResult(image=HxWx3 uint8, seconds=..., ...)
    result = restorers.restore("photo.jpg", "gpen-bfr-512", mode="whole")
    result = restorers.restore("face.png", "codeformer", fidelity=0.7)   # w: 0 = strongest, 1 = most faithful
    results = restorers.restore_sweep("face.png", "codeformer", [0, 0.5, 1])  # one result per w, encoded once
    video = restorers.restore_video("clip.mp4", "out.mp4", "gfpgan-v1.4", scale=2)  # VideoResult
    r = restorers.load_checkpoint("4x_community_model.pth")  # your own ESRGAN/SRVGG/GPEN/GFPGAN/CodeFormer file

Nothing here imports gradio, and nothing downloads at import time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import _moved
from .models.hub import (
    WeightsCorruptError,
    WeightsError,
    WeightsFile,
    WeightsHashMismatchError,
    WeightsNotFoundError,
)
from .media.images import ImageError, ImageTooLargeError, LoadedImage, load_image, save_png
from .models.registry import MODELS, ModelSpec, UnknownModelError, get_spec, specs

if TYPE_CHECKING:
    from .media.video_io import MediaError
    from .pipelines.restorer import RestoreResult, Restorer, make_restorer
    from .pipelines.video import VideoProgress, VideoResult, process_video, restore_video

# Names whose modules import torch load on first access (PEP 562), so `import restorers`, the CLI's
# --help and the registry stay fast; `restorers.Restorer` and `from restorers import Restorer` still work.
_LAZY = {"RestoreResult": "pipelines.restorer", "Restorer": "pipelines.restorer", "make_restorer": "pipelines.restorer",
         "MediaError": "media.video_io", "VideoProgress": "pipelines.video", "VideoResult": "pipelines.video",
         "process_video": "pipelines.video", "restore_video": "pipelines.video"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restorers' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

_moved.install()  # old module paths (restorers.registry, ...) import for one more release, with a warning

__version__ = "0.2.0"

__all__ = [
    "MODELS", "ModelSpec", "RestoreResult", "Restorer", "ImageError", "ImageTooLargeError", "LoadedImage",
    "UnknownModelError", "WeightsCorruptError", "WeightsError", "WeightsFile", "WeightsHashMismatchError",
    "WeightsNotFoundError", "available_models", "get_spec", "load", "load_image", "restore", "save_png",
    "specs", "weights_check", "weights_status",
    "MediaError", "VideoProgress", "VideoResult", "process_video", "restore_video", "load_checkpoint",
]


def available_models(*families: str) -> list[str]:
    """Names of the registered models, optionally of some families ('baseline', 'sr', 'face', ...)."""
    return [spec.name for spec in specs(*families)]  # type: ignore[arg-type]


def load(name: str | ModelSpec, device: str | None = None, precision: str | None = None) -> Restorer:
    """A restorer for a registered model (or an explicit spec); weights load on first use and are cached."""
    from .pipelines.restorer import make_restorer

    return make_restorer(name, device, precision)


def load_checkpoint(path, device: str | None = None, precision: str | None = None) -> Restorer:
    """A restorer for your own checkpoint file (.pth / .safetensors): its architecture and configuration are
    recognised from the tensors' names and shapes (restorers.models.detect_arch), never from the file name; the
    restorer's ``spec`` says what was found. Unrecognised or oversized files raise checkpoint.CheckpointError."""
    from .models.checkpoint import checkpoint_spec
    from .pipelines.restorer import make_restorer

    return make_restorer(checkpoint_spec(path), device, precision)


def restore(image, model: str | ModelSpec, device: str | None = None, precision: str | None = None, **options) -> RestoreResult:
    """Load ``model`` and restore ``image`` (path, bytes, PIL image or array) in one call."""
    return load(model, device, precision).restore(image, **options)


def restore_sweep(image, model: str | ModelSpec, fidelities, device: str | None = None, precision: str | None = None,
                  **options) -> list[RestoreResult]:
    """One result per fidelity weight (CodeFormer), named e.g. 'codeformer (w=0.5)'; the network loads once and
    each face is encoded once. A face model without a fidelity weight gives one result; other models raise."""
    restorer = load(model, device, precision)
    sweep = getattr(restorer, "restore_sweep", None)
    if sweep is None:
        raise ValueError(f"{restorer.name} is not a face model; a fidelity sweep needs one (e.g. codeformer)")
    return sweep(image, list(fidelities), **options)


def weights_status(name: str | ModelSpec) -> str:
    """What using the model will do now: 'builtin', 'override' (a local file that verifies), 'override-bad'
    (a local file that fails its size/sha256 check), 'cached', 'cached-bad', 'downloadable', or 'missing'
    (offline or the Hub unreachable, and not cached). weights_check() adds the path and the reason."""
    return weights_check(name).state


def weights_check(name: str | ModelSpec):
    """A models.hub.WeightsStatus (state, path, reason) for a model; never touches the network."""
    from .models.hub import WeightsStatus, check

    spec = get_spec(name) if isinstance(name, str) else name
    return WeightsStatus("builtin") if spec.weights is None else check(spec.weights)  # type: ignore[arg-type]
