"""Build a genuine Hugging Face hub-cache layout in a temporary folder, for offline tests of the real
download path (hf_hub_download resolves refs/main -> snapshot -> blob exactly as it does for real files)."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from restorers.models.hub import WeightsFile


def add_file(cache: Path, repo_id: str, filename: str, data: bytes, repo_type: str = "model",
             revision: str = "0123456789abcdef0123456789abcdef01234567") -> WeightsFile:
    folder = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    sha = hashlib.sha256(data).hexdigest()
    blob = folder / "blobs" / sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    target = folder / "snapshots" / revision / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(blob)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)  # no trailing newline, like the real cache
    return WeightsFile(repo_id, filename, sha, len(data), repo_type=repo_type)


def checkpoint_bytes(state_dict: dict, wrap: str | None = "params_ema") -> bytes:
    buffer = io.BytesIO()
    torch.save({wrap: state_dict} if wrap else state_dict, buffer)
    return buffer.getvalue()
