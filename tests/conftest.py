"""Shared test fixtures.

Tests that need the fixtures in ../shared (golden vectors, real photos, the real detector) use the
`shared_dir` fixture: it skips locally when ../shared is absent, but fails under CI (CI=true), so a
missing fixture can never turn into a silently green run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))


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
