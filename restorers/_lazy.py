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

    clashes = {name for name, module in exports.items() if name == module and name in submodules}
    if clashes:
        _keep_exports_over_submodules(package, clashes)
    return __getattr__, __dir__


def _keep_exports_over_submodules(package: str, names: set[str]) -> None:
    """For a name that is both an export and the submodule defining it (analysis.evaluate is the function
    evaluate() in evaluate.py), the export wins: importing the submodule (which anything may do first)
    makes Python set the package attribute to the module, and `from restorers.analysis import evaluate`
    then handed out a module instead of the function. The submodule itself stays reachable as
    sys.modules["restorers.analysis.evaluate"] and through `from restorers.analysis.evaluate import ...`."""
    import sys
    import types

    module = sys.modules[package]

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}":
                value = getattr(value, name)
            super().__setattr__(name, value)

    module.__class__ = _Package


def globals_of(package: str) -> dict[str, Any]:
    return vars(importlib.import_module(package))
