"""Building networks from specs, with a bounded cache of loaded ones.

A network is loaded once per (model, device): its weights are read, verified and copied to the device
once, and every later request shares the same eval-mode module (restorers keep no per-request state).
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import torch
from torch import nn

from .hub import fetch, load_weights
from .registry import ModelSpec

CACHE_SIZE_ENV = "RESTORERS_MODEL_CACHE"
DEFAULT_CACHE_SIZE = 4

_cache: OrderedDict[tuple[str, str], nn.Module] = OrderedDict()
_lock = threading.Lock()
load_count: dict[str, int] = {}  # how many times each model's weights were read (tests check the cache)


def cache_size() -> int:
    return max(1, int(os.environ.get(CACHE_SIZE_ENV, DEFAULT_CACHE_SIZE)))


def build_network(spec: ModelSpec, state_dict: dict | None = None) -> nn.Module:
    """Instantiate the architecture and load ``state_dict`` (strict) if given."""
    if spec.build is None:
        raise ValueError(f"{spec.name} has no network")
    net = spec.build(**spec.config)
    if state_dict is not None:
        net.load_state_dict(state_dict, strict=True)
    return net.eval().requires_grad_(False)


def prepare(net: nn.Module, device: torch.device) -> nn.Module:
    """Move to the device, with 4-D weights in channels_last (faster for these conv nets, fp32 and bf16 alike).

    Tensor by tensor rather than ``net.to(memory_format=...)``, which refuses modules that also hold 5-D
    weights (GPEN's modulated convolutions keep the official [1, out, in, k, k] layout).
    """
    net = net.to(device=device)
    for tensor in [*net.parameters(), *net.buffers()]:
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return net


def get_network(spec: ModelSpec, device: torch.device) -> nn.Module:
    """The cached network for (spec, device), loading it on first use; least recently used ones are dropped."""
    key = (spec.name, str(device))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if spec.weights is None and spec.loader is None:
        raise ValueError(f"{spec.name} has no weights to load")
    # Load outside the lock: a slow download must not block requests for other, cached models.
    if spec.loader is not None:
        # No weights file: the loader reads its own (a user's checkpoint, restorers/checkpoint.py).
        net = spec.loader(fetch(spec.weights) if spec.weights else None).eval().requires_grad_(False)
    else:
        net = build_network(spec, load_weights(spec.weights, spec.state_keys))
    net = prepare(net, device)
    with _lock:
        load_count[spec.name] = load_count.get(spec.name, 0) + 1
        net = _cache.setdefault(key, net)
        _cache.move_to_end(key)
        while len(_cache) > cache_size():
            _cache.popitem(last=False)
    return net


def cached_networks() -> list[tuple[str, str]]:
    with _lock:
        return list(_cache)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
