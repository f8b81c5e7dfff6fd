"""The real download path, offline: override dir -> hf_hub_download -> sha256 -> safe load."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from restorers.models import hub
from restorers.models.registry import RETINAFACE

from conftest import require_shared
from hubcache import add_file, checkpoint_bytes

STATE = {"conv.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4), "conv.bias": torch.ones(3)}


def test_tiny_checkpoint_loads_through_hf_hub_download(hub_cache):
    weights = add_file(hub_cache, "someone/tiny", "nested/tiny.pth", checkpoint_bytes(STATE))
    assert hub.state(weights) == "cached"
    loaded = hub.load_weights(weights)
    assert set(loaded) == set(STATE)
    assert torch.equal(loaded["conv.weight"], STATE["conv.weight"])


def test_bare_state_dict_and_module_prefix_are_unwrapped(hub_cache):
    data = checkpoint_bytes({f"module.{k}": v for k, v in STATE.items()}, wrap=None)
    weights = add_file(hub_cache, "someone/bare", "bare.pth", data)
    assert set(hub.load_weights(weights, ())) == set(STATE)


def test_wrong_sha256_is_refused(hub_cache):
    weights = add_file(hub_cache, "someone/tiny", "tiny.pth", checkpoint_bytes(STATE))
    wrong = dataclasses.replace(weights, sha256="0" * 64)
    with pytest.raises(hub.WeightsHashMismatchError, match="sha256 mismatch"):
        hub.fetch(wrong)


def test_truncated_file_is_reported(hub_cache):
    data = checkpoint_bytes(STATE)
    weights = add_file(hub_cache, "someone/tiny", "tiny.pth", data[: len(data) // 2])
    truncated = dataclasses.replace(weights, size=len(data))
    with pytest.raises(hub.WeightsCorruptError, match="truncated"):
        hub.fetch(truncated)


def test_unreadable_checkpoint_is_reported(hub_cache):
    weights = add_file(hub_cache, "someone/junk", "junk.pth", b"not a checkpoint at all")
    with pytest.raises(hub.WeightsCorruptError, match="not a readable checkpoint"):
        hub.load_weights(weights)


def test_offline_miss_names_file_and_offline_options(hub_cache):
    weights = hub.WeightsFile("someone/absent", "absent.pth", "a" * 64, 10)
    assert hub.state(weights) == "missing"
    with pytest.raises(hub.WeightsNotFoundError) as info:
        hub.fetch(weights)
    message = str(info.value)
    assert "someone/absent" in message and "absent.pth" in message
    assert hub.WEIGHTS_DIR_ENV in message and "HF_HUB_OFFLINE" in message


def test_override_directory_wins_and_is_still_verified(hub_cache, tmp_path, monkeypatch):
    data = checkpoint_bytes(STATE)
    weights = add_file(hub_cache, "someone/tiny", "tiny.pth", data)
    override = tmp_path / "override"
    override.mkdir()
    (override / "tiny.pth").write_bytes(b"tampered")
    monkeypatch.setenv(hub.WEIGHTS_DIR_ENV, str(override))
    assert hub.state(weights) == "override-bad"  # it wins, and the status says it will not load
    with pytest.raises(hub.WeightsError):
        hub.fetch(weights)
    (override / "tiny.pth").write_bytes(data)
    assert hub.state(weights) == "override"
    assert hub.fetch(weights) == override / "tiny.pth"


def test_real_retinaface_from_the_shared_hub_cache(monkeypatch):
    cache = require_shared("weights", "hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(hub.WEIGHTS_DIR_ENV, raising=False)
    assert hub.state(RETINAFACE.weights) == "cached"
    state_dict = hub.load_weights(RETINAFACE.weights, RETINAFACE.state_keys)
    assert len(state_dict) == 300
    assert all(t.device.type == "cpu" for t in state_dict.values())
