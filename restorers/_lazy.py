"""Lazy package exports (PEP 562): a package lists the names it offers and the submodule each comes from;
a name's module is imported on first use, so `import restorers.models` stays cheap (no torch) and the
CLI's --help stays fast."""
from __future__ import annotations

import importlib
import os
from typing import Any, Callable


def lazy_exports(package: str, path: list[str], exports: dict[str, str],
                 legacy: str | None = None) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for ``package``: ``exports`` maps a name to the submodule that defines it.
    ``legacy``: a submodule whose public names the package also answers for, because the package replaced a
    module of the same name (restorers.media was media.py) and old imports should keep working. Names of
    the package's own submodules are never answered from there, so `from pkg import submodule` is exact."""
    submodules = {name.removesuffix(".py") for folder in path for name in os.listdir(folder)
                  if name.endswith(".py") or os.path.isdir(os.path.join(folder, name))}
    # A submodule becomes an attribute of its package once imported, and then hides an export of the same
    # name (`from pkg import evaluate` would give the module or the function depending on import order).
    clashes = sorted(set(exports) & submodules)
    if clashes:
        raise ImportError(f"{package} exports names of its own submodules: {clashes}")

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None and legacy is not None and not name.startswith("_") and name not in submodules:
            if hasattr(importlib.import_module(f"{package}.{legacy}"), name):
                module = legacy
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        globals_of(package)[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals_of(package)) | set(exports))

    return __getattr__, __dir__


def globals_of(package: str) -> dict[str, Any]:
    return vars(importlib.import_module(package))
