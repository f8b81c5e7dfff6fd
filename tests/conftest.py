"""Shared test fixtures.

Tests that need the fixtures in ../shared (golden vectors, real photos, the real detector) use the
`shared_dir` fixture: it skips locally when ../shared is absent, but fails under CI (CI=true), so a
missing fixture can never turn into a silently green run.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))

# Hermetic, offline tests: the only hub cache is the genuine one in ../shared (the real RetinaFace
# detector); other models are tested with tiny checkpoints in temporary caches. Set before anything
# imports huggingface_hub or gradio, which read these once.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(SHARED / "weights" / "hf-cache")
os.environ.pop("RESTORERS_WEIGHTS_DIR", None)
# Gradio's upload cache is content-addressed and shared by every process using the same folder: an app
# shutting down in another test run deletes the files it cached, which are the same paths as ours.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="restorers-tests-gradio-")
atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], ignore_errors=True)


def require_shared(*parts: str) -> Path:
    """Path inside ../shared; fail under CI, skip elsewhere, when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"test fixture missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: fixtures from ../shared are required)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return require_shared("golden")


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return require_shared("faces")


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty, offline Hugging Face cache; fill it with tests/hubcache.add_file."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    # The real detector stays reachable (linked, not copied) so whole-photo tests can find faces.
    detector = SHARED / "weights" / "hf-cache" / "models--fofr--comfyui"
    if detector.is_dir():
        (cache / detector.name).symlink_to(detector, target_is_directory=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RESTORERS_WEIGHTS_DIR", raising=False)
    return cache


@pytest.fixture(scope="session")
def app_url():
    """The real app, launched once per test session on a free local port."""
    import socket

    import app as app_module

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app_module.demo.launch(**app_module.launch_options(), server_name="127.0.0.1", server_port=port,
                           prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app_module.demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its folder (unit, golden, app, browser): `-m "not browser"` is the quick tier."""
    tiers = ("unit", "golden", "app", "browser")
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in tiers:
            item.add_marker(getattr(pytest.mark, folder))
