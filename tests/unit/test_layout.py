"""The engine's layout: subpackages by concern with arrows one way, no import cycles (lazy imports counted),
the app reaching engine code only through the package that owns it, and old module paths still importing
(with a DeprecationWarning) for one release."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "restorers"

# A package may import the packages listed for it (and itself); anything else is an arrow running back up.
ALLOWED = {
    "guards": set(),
    "media": {"guards"},
    "models": {"guards", "media"},
    "pipelines": {"guards", "media", "models"},
    "analysis": {"guards", "media", "models", "pipelines"},
    "dcgan": {"guards", "media", "models", "pipelines", "analysis"},
    "cli": {"guards", "media", "models", "pipelines", "analysis", "dcgan", "<api>"},
}
PACKAGES = set(ALLOWED)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every restorers module a file imports, at any depth of the file (function-level imports too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("restorers"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("restorers"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                candidate = f"{target}.{alias.name}"
                sub = REPO.joinpath(*candidate.split("."))
                found.add(candidate if sub.with_suffix(".py").exists() or sub.is_dir() else target)
    return found


def engine_graph() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in ENGINE.rglob("*.py")}


def package_of(module: str) -> str:
    parts = module.split(".")
    if module == "restorers._lazy":
        return "<util>"  # the lazy-export helper every package __init__ uses; imports nothing of ours
    if len(parts) == 1 or parts[1].startswith("_"):
        return "<api>"  # restorers/__init__.py, __main__.py, _lazy.py, _moved.py
    return parts[1]


def test_every_engine_module_sits_in_a_package_by_concern():
    loose = sorted(p.name for p in ENGINE.glob("*.py") if p.name not in {"__init__.py", "__main__.py", "_lazy.py",
                                                                          "_moved.py"})
    assert loose == [], f"modules outside the subpackages: {loose}"
    assert {p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == PACKAGES


def test_each_package_says_what_it_owns_and_may_import():
    for package in PACKAGES:
        doc = ast.get_docstring(ast.parse((ENGINE / package / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"restorers/{package}/__init__.py must say what it owns and may import"


def test_arrows_run_one_way():
    wrong = []
    for module, targets in engine_graph().items():
        source = package_of(module)
        if source == "<api>":
            continue
        for target in targets:
            dest = package_of(target)
            if dest not in {source, "<util>"} and dest not in ALLOWED[source]:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports that run back up the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules():
    graph = engine_graph()
    # A package's __init__ only names its modules lazily; leave it out so `pkg -> pkg.mod -> pkg` is no cycle.
    graph = {m: {t for t in ts if t in graph and not (ENGINE.parent / (t.replace(".", "/") + "/__init__.py")).exists()}
             for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_app_reaches_the_engine_only_through_its_packages():
    """app.py and webui/ import `restorers` or `restorers.<package>`, never a module inside a package."""
    wrong = []
    for path in [REPO / "app.py", *sorted((REPO / "webui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("restorers") and name.count(".") > 1:
                    wrong.append(f"{path.name}: {name}")
    assert wrong == [], wrong


def test_nothing_in_the_engine_imports_gradio_or_the_app():
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in {"gradio", "app", "webui"} for n in names), path


def test_package_exports_resolve_and_never_shadow_a_submodule():
    for package in PACKAGES:
        module = importlib.import_module(f"restorers.{package}")
        for name in dir(module):
            if name.startswith("_"):
                continue
            assert getattr(module, name) is not None
        submodules = {p.stem for p in (ENGINE / package).glob("*.py")}
        exported = set(dir(module)) - submodules - {n for n in vars(module)}
        assert not (exported & submodules)


@pytest.mark.parametrize("old, new", [
    ("restorers.registry", "restorers.models.registry"),
    ("restorers.archs.gpen", "restorers.models.archs.gpen"),
    ("restorers.dcgan_train", "restorers.dcgan.training"),
    ("restorers.limits", "restorers.guards.limits"),
    ("restorers.evaluate", "restorers.analysis.evaluate"),
])
def test_old_module_paths_import_the_moved_module_with_a_warning(old, new):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moved = importlib.import_module(old)
    assert moved is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_packages_that_replaced_a_module_keep_its_names():
    from restorers.cli import main
    from restorers.dcgan import generate, train
    from restorers.media import write_gif

    from restorers.analysis import animate
    from restorers.dcgan import model, training
    from restorers.media import video_io

    assert write_gif is video_io.write_gif and generate is model.generate and train is training.train
    assert callable(main) and animate.contact_sheet is importlib.import_module("restorers.media.layout").contact_sheet


def test_importing_the_engine_does_not_import_torch():
    code = "import sys, restorers, restorers.models, restorers.guards, restorers.media; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_public_api_resolves_without_touching_an_old_path():
    code = ("import warnings; warnings.simplefilter('error', DeprecationWarning); import restorers; "
            "[getattr(restorers, name) for name in restorers.__all__]; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_what_the_app_imports_from_a_package_is_what_it_expects_after_every_module_loaded():
    """Once a submodule is imported it is an attribute of its package: an export of the same name would then
    change meaning with import order. Import everything first, then check each name the app takes."""
    for path in ENGINE.rglob("*.py"):
        if path.name != "__main__.py":
            importlib.import_module(module_name(path))
    for path in [REPO / "app.py", *sorted((REPO / "webui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("restorers."):
                package = importlib.import_module(node.module)
                for alias in node.names:
                    value = getattr(package, alias.name)
                    is_submodule = (ENGINE.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists()
                    assert is_submodule == (type(value).__name__ == "module"), f"{path.name}: {node.module}.{alias.name}"
