"""Load NVIDIA StyleGAN2-ADA network pickles without running the code stored in them.

NVIDIA's pickles (``training_loop.py`` snapshots, the published ``ffhq.pkl`` ...) are written by
``torch_utils.persistence``: every network is rebuilt by ``_reconstruct_persistent_obj(meta)``,
which *executes* ``meta['module_src']`` (the source text of ``training/networks.py``). Loading them
the usual way therefore runs arbitrary code from the file.

Here a restricted unpickler resolves only an explicit allow-list of globals. Persistent objects
become inert :class:`PersistentRecord` s (class name + ``__dict__`` state; the module source is
never executed), tensor storages are read with ``torch.load(weights_only=True)``, and anything else
(``os.system``, ``builtins.eval``, an unknown class ...) raises :class:`UnsafePickleError`.
``G_ema`` is then rebuilt as our own :class:`~restorers.archs.stylegan2_ada.Generator` from its
recorded constructor arguments and loaded with ``load_state_dict(strict=True)``.
"""
from __future__ import annotations

import collections
import hashlib
import inspect
import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .archs.stylegan2_ada import Generator

# persistence records the bare class name; the defining module is only in the (unexecuted) source.
_GENERATOR_CLASS = "Generator"
_GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")


class UnsafePickleError(ValueError):
    """The pickle references something outside the allow-list (and was not executed)."""


@dataclass(frozen=True)
class PersistentRecord:
    """What ``_reconstruct_persistent_obj`` was asked to rebuild, kept as plain data.

    `state` is the module's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``,
    ``_init_kwargs`` ...). `module_src_sha256` identifies the embedded source, which is never run.
    """

    class_name: str
    state: dict[str, Any] = field(repr=False)
    version: int
    module_src_sha256: str


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError("malformed persistent object: expected a dict with type='class'")
    class_name, state, source = meta.get("class_name"), meta.get("state"), meta.get("module_src", "")
    if not isinstance(class_name, str) or not isinstance(state, dict) or not isinstance(source, str):
        raise UnsafePickleError("malformed persistent object: class_name/state/module_src have the wrong types")
    version = meta.get("version")
    return PersistentRecord(
        class_name=class_name,
        state=state,
        version=int(version) if isinstance(version, int) else -1,
        module_src_sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
    )


class _EasyDictStandIn(dict):
    """Stands in for dnnlib.util.EasyDict: a plain dict (attribute access is not needed here)."""


def _load_storage(data: Any) -> Any:
    """torch.storage._load_from_bytes, made safe: the bytes are a legacy torch.save stream."""
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("tensor storage payload is not bytes")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(f"tensor storage payload refused by torch.load(weights_only=True): {exc}") from exc
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"tensor storage payload holds a {type(storage).__name__}, not a storage")
    return storage


def _check_hooks(hooks: Any) -> None:
    if hooks:  # an OrderedDict of callables would be code; NVIDIA's files always store an empty one
        raise UnsafePickleError("a tensor in the pickle carries backward hooks")


def _rebuild_tensor(
    storage: Any,
    storage_offset: int,
    size: Any,
    stride: Any,
    requires_grad: bool,
    backward_hooks: Any,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError("tensor rebuilt from something that is not a storage")
    _check_hooks(backward_hooks)
    if metadata:
        raise UnsafePickleError("tensor metadata is not supported")
    no_hooks = collections.OrderedDict()
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, no_hooks)


def _rebuild_parameter(data: Any, requires_grad: bool, backward_hooks: Any) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError("parameter rebuilt from something that is not a tensor")
    _check_hooks(backward_hooks)
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """numpy's scalar reconstructor, refusing object dtypes (those would unpickle arbitrary data)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"numpy scalar of dtype {dtype!r} is not allowed")
    multiarray = getattr(np, "_core", None) or np.core
    return multiarray.multiarray.scalar(dtype, data)


_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,  # protocol <= 3 pickles (the published ones) spell sets this way
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,  # numpy 1.x name
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,  # numpy 2.x name
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("dnnlib.util", "EasyDict"): _EasyDictStandIn,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load global '{module}.{name}' from the pickle: it is not on the allow-list "
                "of a StyleGAN2-ADA network pickle (nothing from the file was executed)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("persistent ids are not allowed in a network pickle")


def read_network_pickle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level dict of a network pickle, with networks as inert PersistentRecords."""
    with open(path, "rb") as fh:
        data = _RestrictedUnpickler(fh).load()
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict (G, D, G_ema, ...), got {type(data).__name__}")
    return data


def _plain(value: Any) -> Any:
    """EasyDicts -> dicts, numpy scalars -> Python numbers, recursively (for constructor kwargs)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _collect_state_dict(record: PersistentRecord, prefix: str, out: dict[str, torch.Tensor]) -> None:
    state = record.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for name, tensor in (state.get("_parameters") or {}).items():
        if tensor is not None:
            out[prefix + name] = tensor.detach()
    for name, tensor in (state.get("_buffers") or {}).items():
        if tensor is not None and name not in skip:
            out[prefix + name] = tensor.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise ValueError(f"submodule '{prefix}{name}' is a {type(child).__name__}, not a persistent network object")
        _collect_state_dict(child, f"{prefix}{name}.", out)


def _generator_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """Our Generator's constructor arguments from G_ema's recorded ``_init_args``/``_init_kwargs``."""
    if record.class_name != _GENERATOR_CLASS:
        raise ValueError(f"G_ema is a '{record.class_name}', expected a StyleGAN2 '{_GENERATOR_CLASS}'")
    args = _plain(tuple(record.state.get("_init_args") or ()))
    kwargs = _plain(dict(record.state.get("_init_kwargs") or {}))
    # NVlabs/stylegan3's networks_stylegan2.Generator takes the synthesis arguments flat (plus an
    # execution-only option); fold them into synthesis_kwargs. Unknown ones then fail below.
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k not in _GENERATOR_ARGS}
    flat.pop("fused_modconv_default", None)
    if flat:
        kwargs["synthesis_kwargs"] = {**flat, **kwargs.get("synthesis_kwargs", {})}
    try:
        bound = inspect.signature(Generator).bind(*args, **kwargs)
    except TypeError as exc:
        raise ValueError(f"G_ema's recorded constructor arguments do not fit our Generator: {exc}") from exc
    return dict(bound.arguments)


def generator_from_record(record: Any) -> Generator:
    """Build our Generator from a G_ema PersistentRecord and load its tensors strictly."""
    if not isinstance(record, PersistentRecord):
        raise ValueError(f"expected a persistent network object, got {type(record).__name__}")
    kwargs = _generator_kwargs(record)
    try:
        generator = Generator(**kwargs)
    except TypeError as exc:
        raise ValueError(f"G_ema's recorded constructor arguments do not fit our Generator: {exc}") from exc
    state_dict: dict[str, torch.Tensor] = {}
    _collect_state_dict(record, "", state_dict)
    try:
        generator.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"G_ema's tensors do not match a Generator built with {kwargs}: {exc}") from exc
    return generator.eval().requires_grad_(False)


def _load_state_dict_file(path: str | os.PathLike[str]) -> Generator:
    """A torch.save'd {'config': Generator kwargs, 'state_dict': G_ema.state_dict()} (weights_only)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not (isinstance(data, dict) and isinstance(data.get("config"), dict) and isinstance(data.get("state_dict"), dict)):
        raise ValueError(f"{path}: expected a dict with 'config' (Generator kwargs) and 'state_dict'")
    generator = Generator(**data["config"])
    generator.load_state_dict(data["state_dict"], strict=True)
    return generator.eval().requires_grad_(False)


def load_stylegan2_ada_pickle(path: str | os.PathLike[str]) -> Generator:
    """G_ema of a StyleGAN2-ADA network pickle as our Generator (eval mode, float32, CPU).

    Also accepts a torch.save file (zip format) holding {'config': ..., 'state_dict': ...}.
    Raises UnsafePickleError for anything outside the allow-list, ValueError for other problems.
    """
    if zipfile.is_zipfile(path):
        return _load_state_dict_file(path)
    data = read_network_pickle(path)
    if "G_ema" not in data:
        raise ValueError(f"{path}: no 'G_ema' in this pickle (keys: {sorted(map(str, data))})")
    return generator_from_record(data["G_ema"])
