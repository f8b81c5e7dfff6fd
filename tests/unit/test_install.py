"""The package installs from pyproject.toml and runs from any directory (wheel build, no network)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    # Build from a copy, so the build's scratch folders never land in the checkout.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "restorers", source / "restorers", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)],
                   check=True, timeout=300, cwd=tmp_path)
    wheels = list((tmp_path / "dist").glob("restorers-*.whl"))
    assert len(wheels) == 1
    site = tmp_path / "site"
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(site), str(wheels[0])],
                   check=True, timeout=300, cwd=tmp_path)
    assert (site / "restorers" / "models" / "archs" / "rrdbnet.py").is_file()
    assert (site / "restorers" / "analysis" / "data" / "niqe_pristine.npz").is_file()  # NIQE works when installed

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)  # the installed copy only, never the checkout
    found = subprocess.run([sys.executable, "-c", "import restorers; print(restorers.__file__)"], env=env,
                           cwd=elsewhere, capture_output=True, text=True, check=True)
    assert Path(found.stdout.strip()).is_relative_to(site)

    script = site / "bin" / ("restorers.exe" if os.name == "nt" else "restorers")
    done = subprocess.run([str(script), "--help"], env=env, cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: restorers") and "interpolate" in done.stdout
    done = subprocess.run([sys.executable, "-m", "restorers", "models"], env=env, cwd=elsewhere, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:3] == ["bicubic", "baseline", "builtin"]
