"""Finding, verifying and loading model weights: the only module that touches the network.

Resolution order for every weights file:

1. a local override directory (``RESTORERS_WEIGHTS_DIR``): ``<dir>/<basename>`` or ``<dir>/<repo_id>/<filename>``;
2. ``huggingface_hub.hf_hub_download`` (which honours ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE``);
3. size and sha256 verification against the pinned values (once per file per process);
4. ``torch.load(weights_only=True, map_location="cpu")`` or safetensors.

Each way this can fail has its own exception, and every message says which file is wanted, from where,
and how to provide it offline.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

WEIGHTS_DIR_ENV = "RESTORERS_WEIGHTS_DIR"

WeightsState = Literal["override", "cached", "downloadable", "missing"]


@dataclass(frozen=True)
class WeightsFile:
    """One published checkpoint, pinned by repo, path and content hash."""

    repo_id: str
    filename: str
    # The content pin. None is allowed only with a full commit revision, which pins the content itself
    # (the commit fixes the file's LFS pointer) when no published sha256 could be verified.
    sha256: str | None
    size: int | None = None
    # None means the repo's default branch; the sha256 is then the real pin (a moved branch fails the check).
    revision: str | None = None
    repo_type: str = "model"

    def __post_init__(self) -> None:
        commit = self.revision is not None and len(self.revision) == 40 and all(c in "0123456789abcdef" for c in self.revision)
        if self.sha256 is None and not commit:
            raise ValueError(f"{self.repo_id}/{self.filename}: pin it by sha256 or by a full commit revision")

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        prefix = "spaces/" if self.repo_type == "space" else "datasets/" if self.repo_type == "dataset" else ""
        return f"https://huggingface.co/{prefix}{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"

    def offline_hint(self) -> str:
        pin = f"sha256 {self.sha256[:12]}..." if self.sha256 else f"commit {self.revision[:12]}"
        return (
            f"To provide it offline, download {self.url} ({pin}) and either put it in the "
            f"directory named by ${WEIGHTS_DIR_ENV} as '{self.basename}', or place it in a Hugging Face cache "
            f"(HF_HUB_CACHE) under repo '{self.repo_id}'."
        )


class WeightsError(RuntimeError):
    """Base class of every weights problem a user can meet."""


class WeightsNotFoundError(WeightsError):
    """The file is neither in an override directory nor in the cache, and could not be downloaded."""


class WeightsHashMismatchError(WeightsError):
    """The file exists but its sha256 differs from the pinned one (wrong or tampered file)."""


class WeightsCorruptError(WeightsError):
    """The file is truncated or is not a readable checkpoint."""


_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(weights: WeightsFile, path: Path) -> Path:
    """Check size and sha256 of ``path`` against the pin; remembered per (path, size, mtime)."""
    key = _file_key(path)
    with _verified_lock:
        if _verified.get(key) == weights.sha256:
            return path
    size = key[1]
    if weights.sha256 is None:
        return path  # pinned by commit revision (see WeightsFile.sha256)
    if weights.size is not None and size != weights.size:
        raise WeightsCorruptError(
            f"{path} has {size} bytes but {weights.repo_id}/{weights.filename} has {weights.size}: the file is "
            f"truncated or not the published one. Delete it and download again. {weights.offline_hint()}"
        )
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise WeightsHashMismatchError(
            f"sha256 mismatch for {path}: expected {weights.sha256} ({weights.repo_id}/{weights.filename}), "
            f"got {actual}. This is a different file from the pinned one; it is not loaded. {weights.offline_hint()}"
        )
    with _verified_lock:
        _verified[key] = actual
    return path


def override_path(weights: WeightsFile) -> Path | None:
    """The file in the local override directory, if one is configured and holds it."""
    root = os.environ.get(WEIGHTS_DIR_ENV)
    if not root:
        return None
    for candidate in (Path(root) / weights.basename, Path(root) / weights.repo_id / weights.filename):
        if candidate.is_file():
            return candidate
    return None


def _cache_dir() -> str | None:
    # Read at call time (not at import) so that a test or a Space can point to another cache.
    return os.environ.get("HF_HUB_CACHE") or None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cached_path(weights: WeightsFile) -> Path | None:
    """The file in the Hugging Face cache, without any network access."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        weights.repo_id,
        weights.filename,
        cache_dir=_cache_dir(),
        revision=weights.revision,
        repo_type=weights.repo_type,
    )
    return Path(found) if isinstance(found, str) else None


def state(weights: WeightsFile) -> WeightsState:
    """Where the file would come from now: override dir, cache, download, or nowhere (offline miss)."""
    if override_path(weights) is not None:
        return "override"
    if cached_path(weights) is not None:
        return "cached"
    return "missing" if _offline() else "downloadable"


def fetch(weights: WeightsFile) -> Path:
    """Return a verified local path to ``weights``, downloading it if allowed and needed."""
    # A cached file whose sha256 matches the pin is final: no need to ask the Hub (which, unreachable,
    # costs retries before hf_hub_download falls back to the cache anyway).
    local = override_path(weights) or cached_path(weights)
    if local is None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            local = Path(
                hf_hub_download(
                    weights.repo_id,
                    weights.filename,
                    revision=weights.revision,
                    repo_type=weights.repo_type,
                    cache_dir=_cache_dir(),
                    local_files_only=_offline(),
                )
            )
        except LocalEntryNotFoundError as exc:
            raise WeightsNotFoundError(
                f"weights {weights.repo_id}/{weights.filename} are not cached and could not be downloaded "
                f"({'HF_HUB_OFFLINE is set' if _offline() else 'the Hub is unreachable'}). {weights.offline_hint()}"
            ) from exc
        except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
            raise WeightsNotFoundError(
                f"{weights.url} does not exist on the Hub (repo, revision or file missing). {weights.offline_hint()}"
            ) from exc
        except (HfHubHTTPError, OSError) as exc:
            raise WeightsNotFoundError(
                f"downloading {weights.url} failed: {exc}. {weights.offline_hint()}"
            ) from exc
    return verify(weights, local)


def read_checkpoint(path: Path) -> object:
    """Deserialise a checkpoint without running code stored in it."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        import torch

        # map_location: several published files hold CUDA storages and fail to load on a CPU machine otherwise.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the same thing to the user
        raise WeightsCorruptError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from exc


def unwrap_state_dict(checkpoint: object, keys: tuple[str, ...] = ("params_ema", "params")) -> dict:
    """Pick the state_dict out of a checkpoint (BasicSR wrappers, bare dicts, DataParallel prefixes)."""
    if not isinstance(checkpoint, dict):
        raise WeightsCorruptError(f"expected a dict checkpoint, got {type(checkpoint).__name__}")
    for key in keys:
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    if any(k.startswith("module.") for k in checkpoint):
        checkpoint = {k.removeprefix("module."): v for k, v in checkpoint.items()}
    return dict(checkpoint)


def load_weights(weights: WeightsFile, keys: tuple[str, ...] = ("params_ema", "params")) -> dict:
    """fetch -> verify -> safe load -> unwrapped state_dict (tensors on CPU)."""
    return unwrap_state_dict(read_checkpoint(fetch(weights)), keys)
