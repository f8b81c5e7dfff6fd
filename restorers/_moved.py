"""Old module paths of release 0.1 (a flat restorers/ folder) keep importing, for one release, with a
DeprecationWarning that names the new path: `import restorers.registry` gives restorers.models.registry.
CHANGELOG.md lists every move. restorers.media, restorers.dcgan and restorers.cli became packages of the
same name and answer for their old names themselves (restorers/_lazy.py)."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "registry": "models.registry", "hub": "models.hub", "networks": "models.networks", "runtime": "models.runtime",
    "checkpoint": "models.checkpoint", "detect_arch": "models.detect_arch",
    "stylegan_pickle": "models.stylegan_pickle", "archs": "models.archs",
    "restorer": "pipelines.restorer", "face": "pipelines.face", "tiling": "pipelines.tiling",
    "track": "pipelines.track", "video": "pipelines.video",
    "images": "media.images", "uploads": "media.uploads",
    "degrade": "analysis.degrade", "metrics": "analysis.metrics", "evaluate": "analysis.evaluate",
    "loop": "analysis.loop", "animate": "analysis.animate", "generate": "analysis.generate",
    "budget": "analysis.budget",
    "dcgan_train": "dcgan.training", "dcgan_data": "dcgan.data", "dcgan_config": "dcgan.config",
    "limits": "guards.limits", "cancel": "guards.cancel", "validate": "guards.validate",
    "dcgan_cli": "cli.dcgan",
}


def new_name(fullname: str) -> str | None:
    """restorers.registry -> restorers.models.registry; restorers.archs.gpen -> restorers.models.archs.gpen."""
    head, _, rest = fullname.partition(".")
    if head != "restorers" or not rest:
        return None
    first, _, tail = rest.partition(".")
    target = MOVED.get(first)
    if target is None:
        return None
    return f"restorers.{target}" + (f".{tail}" if tail else "")


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # the target module ran already
        pass


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}; the old path goes away in the next release",
                      DeprecationWarning, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())  # before the path finder: restorers.archs.x is an alias too
