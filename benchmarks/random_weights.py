"""A Hugging Face hub cache of random-weight checkpoints at the real configurations, for timing benchmarks.

The real weights cannot be downloaded here, and speed does not depend on weight values. So each network is
built at its registered configuration (torch.manual_seed(0)), saved as the checkpoint file the registry
expects (same repo, file name and state-dict wrapper) in a hub-cache layout, and the registry's pins are
pointed at those files' sha256 (use_random_weights). Everything after that is the engine's real path:
fetch, sha256 verify, torch.load, build, load_state_dict, channels_last, so a fresh process pays the same
loading costs it would pay with the published files. RetinaFace is copied from the real cache
($HF_HUB_CACHE): the detector must find real faces, so its weights are the published ones.

    python -m benchmarks.random_weights DIR [MODEL ...]    # build (or reuse) the cache in DIR
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

MANIFEST = "manifest.json"
REVISION = "0000000000000000000000000000000000000000"  # a fake commit id for refs/main
E2E_MODELS = ("gpen-bfr-512", "gfpgan-v1.4", "codeformer", "realesrgan-x4plus", "realesrgan-x2plus",
              "realesr-general-x4v3", "parsenet")
DETECTOR = "retinaface-mobilenet0.25"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _place(hub: Path, repo_id: str, repo_type: str, filename: str, source: Path) -> dict:
    """Move ``source`` into the cache as blobs/<sha256> with a snapshot link; the manifest entry for it."""
    sha, size = _sha256(source), source.stat().st_size
    folder = hub / f"{repo_type}s--{repo_id.replace('/', '--')}"
    blob = folder / "blobs" / sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), blob)
    link = folder / "snapshots" / REVISION / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(blob)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)
    return {"repo_id": repo_id, "filename": filename, "repo_type": repo_type, "sha256": sha, "size": size}


def _config_key(spec) -> str:
    """Changes when the architecture's configuration does, so a stale cache entry is rebuilt."""
    return hashlib.sha256(repr(sorted(spec.config.items())).encode()).hexdigest()[:16]


def build_cache(root: Path, names: tuple[str, ...] = E2E_MODELS, real_cache: str | None = None) -> dict:
    """Write (or reuse) random-weight checkpoints for ``names`` and the real detector under ``root``/hub.

    Returns the manifest {model name: {repo_id, filename, repo_type, sha256, size, config}}. The detector is
    left out (with a note) when ``real_cache`` does not hold it.
    """
    import torch

    from restorers.models import networks, registry
    from restorers.models.hub import cached_path

    root.mkdir(parents=True, exist_ok=True)
    hub = root / "hub"
    manifest_path = root / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name in names:
        spec = registry.get_spec(name)
        entry = manifest.get(name)
        if entry and entry.get("config") == _config_key(spec) and _blob(hub, entry).is_file():
            continue
        torch.manual_seed(0)
        state = networks.build_network(spec).state_dict()
        checkpoint = {spec.state_keys[0]: state} if spec.state_keys else state
        tmp = root / f".{name}.pth.tmp"
        torch.save(checkpoint, tmp)
        del state, checkpoint
        weights = spec.weights
        manifest[name] = {**_place(hub, weights.repo_id, weights.repo_type, weights.filename, tmp),
                          "config": _config_key(spec)}
        manifest_path.write_text(json.dumps(manifest, indent=1))
    if DETECTOR not in manifest or not _blob(hub, manifest[DETECTOR]).is_file():
        detector = registry.get_spec(DETECTOR).weights
        saved = os.environ.get("HF_HUB_CACHE")
        if real_cache:
            os.environ["HF_HUB_CACHE"] = real_cache
        try:
            found = cached_path(detector)
        finally:
            _restore_env("HF_HUB_CACHE", saved)
        if found is not None:
            tmp = root / ".detector.tmp"
            shutil.copyfile(found, tmp)
            manifest[DETECTOR] = _place(hub, detector.repo_id, detector.repo_type, detector.filename, tmp)
            manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def _blob(hub: Path, entry: dict) -> Path:
    folder = hub / f"{entry['repo_type']}s--{entry['repo_id'].replace('/', '--')}"
    return folder / "blobs" / entry["sha256"]


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def use_random_weights(root: Path, names: tuple[str, ...] | None = None) -> list[str]:
    """Point this process at the cache in ``root``: HF_HUB_CACHE, offline, and the pins of ``names`` (default:
    every model in the cache); other models keep their real pins, so they are missing, as without weights.

    Must run before anything reads a spec's weights (before `import app` in the app's process). Returns the
    model names whose pins now name random-weight files.
    """
    from restorers.models import registry

    manifest = json.loads((root / MANIFEST).read_text())
    os.environ["HF_HUB_CACHE"] = str(root / "hub")
    os.environ["HF_HUB_OFFLINE"] = "1"
    patched = []
    models = []
    for spec in registry.MODELS:
        entry = manifest.get(spec.name)
        if entry and spec.name != DETECTOR and (names is None or spec.name in names):
            weights = dataclasses.replace(spec.weights, sha256=entry["sha256"], size=entry["size"], revision=None)
            spec = dataclasses.replace(spec, weights=weights)
            patched.append(spec.name)
        models.append(spec)
    registry.MODELS = tuple(models)
    # Module-level names too (e.g. registry.GPEN_BFR_512), for code that reads a spec by its constant.
    for attr, value in list(vars(registry).items()):
        if isinstance(value, registry.ModelSpec):
            setattr(registry, attr, registry.get_spec(value.name))
    restorers = sys.modules.get("restorers")
    if restorers is not None:
        restorers.MODELS = registry.MODELS
    return patched


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit(__doc__)
    root, names = Path(args[0]), tuple(args[1:]) or E2E_MODELS
    manifest = build_cache(root, names, os.environ.get("HF_HUB_CACHE"))
    for name, entry in manifest.items():
        print(f"{name}: {entry['size'] / 1e6:.0f} MB, sha256 {entry['sha256'][:12]}")


if __name__ == "__main__":
    main()
