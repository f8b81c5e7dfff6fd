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
import gc
import hashlib
import inspect
import io
import math
import mmap
import numbers
import os
import pickle
import zipfile
from struct import error as struct_error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .archs.stylegan2_ada import Generator
from ..guards.pickle_scan import NotAPickleError, PickleRefused, check_legacy_stream, check_torch_file, scan
from ..guards.limits import (
    MAX_GENERATOR_PARAMS_ENV,
    MAX_GENERATOR_RESOLUTION_ENV,
    max_generator_params,
    max_generator_resolution,
    max_upload_bytes,
)

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
    try:  # the payload is itself a pickle stream: walked and bounded like the file around it
        check_legacy_stream(data, "a tensor storage in the pickle")
    except PickleRefused as exc:
        raise UnsafePickleError(str(exc)) from None
    except NotAPickleError:
        raise UnsafePickleError("a tensor storage in the pickle is damaged (not a torch storage stream)") from None
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        from .hub import unreadable_reason  # torch's own text advises weights_only=False: never shown

        raise UnsafePickleError(f"a tensor storage in the pickle was refused: {unreadable_reason(exc)}") from None
    except (RuntimeError, EOFError, OSError, ValueError, struct_error, MemoryError):
        # e.g. a storage that declares 10^10 elements over a few bytes: torch refuses it (nothing is kept)
        raise UnsafePickleError("a tensor storage in the pickle is damaged (its declared size does not match its bytes)") from None
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"tensor storage payload holds a {type(storage).__name__}, not a storage")
    return storage


def _check_hooks(hooks: Any) -> None:
    if hooks:  # an OrderedDict of callables would be code; NVIDIA's files always store an empty one
        raise UnsafePickleError("a tensor in the pickle carries backward hooks")


def _small_ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > 8 or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**40 for v in value
    ):
        raise UnsafePickleError(f"a tensor in the pickle has an invalid {what}")
    return value


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
    _small_ints(size, "shape")
    _small_ints(stride, "stride")
    _small_ints((storage_offset,), "storage offset")
    no_hooks = collections.OrderedDict()
    try:  # a view past the end of its storage is refused by torch before anything is allocated
        return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, bool(requires_grad), no_hooks)
    except RuntimeError:
        raise UnsafePickleError("a tensor in the pickle reaches past the end of its storage") from None


def _rebuild_parameter(data: Any, requires_grad: bool, backward_hooks: Any) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError("parameter rebuilt from something that is not a tensor")
    _check_hooks(backward_hooks)
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """np.dtype, for plain numeric type codes only (a structured or sub-array dtype could declare gigabytes)."""
    dtype = np.dtype(spec) if isinstance(spec, str) and len(spec) <= 8 else None
    if dtype is None or dtype.kind not in "biufc" or dtype.itemsize > 16:
        raise UnsafePickleError("the pickle asks for a numpy data type that is not a plain number")
    return dtype


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """numpy's scalar reconstructor, refusing object dtypes (those would unpickle arbitrary data)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in "biufc" or dtype.itemsize > 16:
        raise UnsafePickleError("a numpy scalar in the pickle is not a plain number")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError("a numpy scalar in the pickle has the wrong number of bytes")
    multiarray = getattr(np, "_core", None) or np.core
    return multiarray.multiarray.scalar(dtype, data)


_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,  # protocol <= 3 pickles (the published ones) spell sets this way
    ("numpy", "dtype"): _numpy_dtype,
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


class _BoundedReader:
    """A file that refuses to read past its end, so a pickle cannot make us allocate what it only declares.

    Pickle opcodes carry lengths (BINBYTES8, BINUNICODE8 ...); a reader allocates that many bytes before
    reading them. Here a length beyond what is left in the file is an error before any allocation.
    """

    def __init__(self, fh: io.BufferedReader, size: int) -> None:
        self._fh, self._size = fh, size

    def _left(self) -> int:
        return self._size - self._fh.tell()

    def read(self, n: int = -1) -> bytes:
        left = self._left()
        if n is None or n < 0:
            n = left
        if n > left:
            raise UnsafePickleError(f"the pickle declares a {n}-byte item but only {left} bytes follow")
        return self._fh.read(n)

    def readinto(self, buffer: Any) -> int:
        if len(buffer) > self._left():
            raise UnsafePickleError("the pickle declares more bytes than the file holds")
        return self._fh.readinto(buffer)

    def readline(self, limit: int = -1) -> bytes:
        return self._fh.readline(min(self._left(), 1 << 16) if limit < 0 else min(limit, 1 << 16))


def _prescan(path: str | os.PathLike[str]) -> None:
    """Walk the opcodes without building anything (guards.pickle_scan): count them and the nesting depth,
    and refuse lengths the file does not hold."""
    with open(path, "rb") as fh:
        try:
            view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            raise ValueError("not a StyleGAN2-ADA network pickle (the file is empty)") from None
        with view:
            try:
                scan(view, what="the pickle")
            except PickleRefused as exc:
                raise UnsafePickleError(str(exc)) from None
            except NotAPickleError:
                raise ValueError("not a StyleGAN2-ADA network pickle (the file is damaged or in another format)") from None


def read_network_pickle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level dict of a network pickle, with networks as inert PersistentRecords.

    The file is first walked opcode by opcode (see _prescan), then unpickled through the allow-list.
    """
    size = os.path.getsize(path)
    if size > max_upload_bytes():
        raise ValueError(f"the network pickle is {size / 2**20:.0f} MB; at most {max_upload_bytes() / 2**20:.0f} MB are read")
    _prescan(path)
    with open(path, "rb") as fh:
        reader = _BoundedReader(fh, size)
        try:
            data = _RestrictedUnpickler(reader).load()
        except (UnsafePickleError, MemoryError):
            raise
        except ValueError as exc:
            # Our own reconstructors' messages (clean sentences) pass through; pickle's own do not.
            raise ValueError(str(exc)[:300]) from None
        except Exception:  # noqa: BLE001 - UnpicklingError, EOFError, TypeError from a malformed REDUCE ...
            raise ValueError("not a StyleGAN2-ADA network pickle (the file is damaged or in another format)") from None
    if not isinstance(data, dict):
        raise ValueError(f"{Path(path).name}: expected a dict (G, D, G_ema, ...), got {type(data).__name__}")
    return data


_MAX_CONFIG_ITEMS = 256  # values in a generator's recorded constructor arguments, all nested levels together
_MAX_CONFIG_DEPTH = 4


def _plain(value: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """EasyDicts -> dicts, numpy scalars -> Python numbers, for constructor kwargs: small, plain data only.

    Never a blind deep copy: the pickle can share one list many times over (via its memo), and copying
    that naively multiplies it. Every value visited counts against a small budget, repeats included.
    """
    budget = [_MAX_CONFIG_ITEMS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_CONFIG_DEPTH:
        raise ValueError("G_ema's recorded constructor arguments are too large or too deeply nested "
                         "for a StyleGAN2 generator")
    if isinstance(value, dict):
        if len(value) > _MAX_CONFIG_ITEMS:
            raise ValueError("G_ema's recorded constructor arguments are too large for a StyleGAN2 generator")
        return {str(k)[:64]: _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_CONFIG_ITEMS:
            raise ValueError("G_ema's recorded constructor arguments are too large for a StyleGAN2 generator")
        return type(value)(_plain(v, budget, depth + 1) for v in value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) <= 64:
        return value
    raise ValueError(f"G_ema's recorded constructor arguments hold a {type(value).__name__}, "
                     "where only numbers, text and small lists are expected")


# Structural arguments and the largest value each may have, whatever the parameter budget says.
_CONFIG_BOUNDS = {
    "z_dim": (1, 4096), "c_dim": (0, 4096), "w_dim": (1, 4096), "img_channels": (1, 4),
    "num_layers": (1, 32), "embed_features": (0, 4096), "layer_features": (0, 4096),
    "channel_base": (1, 2**20), "channel_max": (1, 4096), "num_fp16_res": (0, 32),
}
_MAX_FILTER_TAPS = 16


def check_generator_config(kwargs: dict[str, Any]) -> None:
    """Refuse a generator configuration that is malformed or too large BEFORE any weight is allocated.

    Each structural size is range-checked, then the generator is built on PyTorch's ``meta`` device
    (shapes only, no memory) and its parameters and buffers are counted against the configured limit.
    """
    for key in ("mapping_kwargs", "synthesis_kwargs"):
        if kwargs.get(key) is not None and not isinstance(kwargs[key], dict):
            raise ValueError(f"G_ema's {key} is not a dict")
    nested = {**kwargs, **(kwargs.get("mapping_kwargs") or {}), **(kwargs.get("synthesis_kwargs") or {})}
    for key, value in nested.items():
        if key in _CONFIG_BOUNDS and value is not None:
            low, high = _CONFIG_BOUNDS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"G_ema's {key} must be an integer between {low} and {high}, got {_shown(value)}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"G_ema's {key} must be a finite number")
        elif isinstance(value, (list, tuple)) and (len(value) > _MAX_FILTER_TAPS or not all(
                isinstance(v, numbers.Real) and math.isfinite(v) for v in value)):
            raise ValueError(f"G_ema's {key} must be a short list of numbers")
    resolution = kwargs.get("img_resolution")
    limit = max_generator_resolution()
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 4 <= resolution <= limit \
            or resolution & (resolution - 1):
        raise ValueError(f"G_ema's img_resolution must be a power of two between 4 and {limit}, got "
                         f"{_shown(resolution)} (raise ${MAX_GENERATOR_RESOLUTION_ENV} for bigger generators)")
    # A lower bound first, in plain integers (the first meta build in a process imports torch._dynamo, about
    # 2 s on a loaded 2-core machine): a hostile configuration is refused at once, a plausible one is counted.
    floor = _weight_floor(kwargs)
    if floor > max_generator_params():
        raise ValueError(f"this generator would need at least {floor / 1e6:,.0f} M parameters; at most "
                         f"{max_generator_params() / 1e6:,.0f} M are built here (${MAX_GENERATOR_PARAMS_ENV})")
    try:
        with torch.device("meta"):
            shape_only = Generator(**kwargs)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"G_ema's recorded constructor arguments do not fit our Generator: {str(exc)[:200]}") from None
    count = sum(t.numel() for t in shape_only.parameters()) + sum(t.numel() for t in shape_only.buffers())
    del shape_only
    if count > max_generator_params():
        raise ValueError(f"this generator would need {count / 1e6:,.0f} M parameters; at most "
                         f"{max_generator_params() / 1e6:,.0f} M are built here (${MAX_GENERATOR_PARAMS_ENV})")


def _weight_floor(kwargs: dict[str, Any]) -> int:
    """The generator's convolution and mapping weights alone (every architecture has at least these)."""
    synthesis = kwargs.get("synthesis_kwargs") or {}
    mapping = kwargs.get("mapping_kwargs") or {}
    base, cap = int(synthesis.get("channel_base") or 32768), int(synthesis.get("channel_max") or 512)
    resolution, count, previous = int(kwargs["img_resolution"]), 0, 0
    res = 4
    while res <= resolution:
        channels = min(base // res, cap)
        count += channels * channels * 9 + previous * channels * 9  # conv1, and conv0 above 4x4
        previous, res = channels, res * 2
    w_dim, z_dim = int(kwargs.get("w_dim") or 0), int(kwargs.get("z_dim") or 0)
    width = int(mapping.get("layer_features") or w_dim)
    layers = int(mapping.get("num_layers") or 8)
    count += z_dim * w_dim if layers == 1 else z_dim * width + (layers - 2) * width * width + width * w_dim
    return count


def _shown(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)[:20]
    return f"a {type(value).__name__}"


_MAX_STATE_ENTRIES = 20_000  # tensors + submodules of one generator (FFHQ 1024's G_ema has about 400)
_MAX_MODULE_DEPTH = 16


def _mapping(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"G_ema's {what} is a {type(value).__name__}, not a dict")
    return value


def _collect_state_dict(record: PersistentRecord, prefix: str, out: dict[str, torch.Tensor],
                        seen: set[int] | None = None, depth: int = 0) -> None:
    """The tensors of a record tree, keyed like a state_dict. A submodule shared by two parents (or its
    own ancestor) is refused: walked naively, a pickle of a few hundred bytes could fan out for ever."""
    seen = set() if seen is None else seen
    if id(record) in seen:
        raise ValueError(f"submodule '{prefix[:-1][:80]}' appears twice in the network: not a StyleGAN2 generator")
    if depth > _MAX_MODULE_DEPTH:
        raise ValueError("the network's submodules nest too deeply for a StyleGAN2 generator")
    seen.add(id(record))
    state = record.state
    skip = state.get("_non_persistent_buffers_set") or ()
    if not isinstance(skip, (set, frozenset, list, tuple)) or len(skip) > _MAX_STATE_ENTRIES:
        raise ValueError("G_ema's _non_persistent_buffers_set is malformed")
    skip = {str(k) for k in skip}
    for kind in ("_parameters", "_buffers", "_modules"):
        entries = _mapping(state.get(kind), kind)
        if len(out) + len(seen) + len(entries) > _MAX_STATE_ENTRIES:
            raise ValueError("the network has far more tensors than a StyleGAN2 generator")
        for name, value in entries.items():
            key = f"{prefix}{str(name)[:64]}"
            if value is None or (kind == "_buffers" and name in skip):
                continue
            if kind == "_modules":
                if not isinstance(value, PersistentRecord):
                    raise ValueError(f"submodule '{key[:80]}' is a {type(value).__name__}, not a persistent network object")
                _collect_state_dict(value, key + ".", out, seen, depth + 1)
            elif isinstance(value, torch.Tensor):
                out[key] = value.detach()
            else:
                raise ValueError(f"'{key[:80]}' is a {type(value).__name__}, not a tensor")


def _generator_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """Our Generator's constructor arguments from G_ema's recorded ``_init_args``/``_init_kwargs``."""
    if record.class_name != _GENERATOR_CLASS:
        raise ValueError(f"G_ema is a '{record.class_name[:40]}', expected a StyleGAN2 '{_GENERATOR_CLASS}'")
    raw_args = record.state.get("_init_args") or ()
    if not isinstance(raw_args, (list, tuple)):
        raise ValueError(f"G_ema's _init_args is a {type(raw_args).__name__}, not a tuple")
    args = _plain(tuple(raw_args))
    kwargs = _plain(_mapping(record.state.get("_init_kwargs"), "_init_kwargs"))
    # NVlabs/stylegan3's networks_stylegan2.Generator takes the synthesis arguments flat (plus an
    # execution-only option); fold them into synthesis_kwargs. Unknown ones then fail below.
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k not in _GENERATOR_ARGS}
    flat.pop("fused_modconv_default", None)
    if flat:
        kwargs["synthesis_kwargs"] = {**flat, **_mapping(kwargs.get("synthesis_kwargs"), "synthesis_kwargs")}
    try:
        bound = inspect.signature(Generator).bind(*args, **kwargs)
    except TypeError as exc:
        raise ValueError(f"G_ema's recorded constructor arguments do not fit our Generator: {exc}") from None
    return dict(bound.arguments)


def _build(kwargs: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> Generator:
    """Check the configuration (no allocation), then build the generator and load its tensors strictly."""
    check_generator_config(kwargs)
    try:
        generator = Generator(**kwargs)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"G_ema's recorded constructor arguments do not fit our Generator: {str(exc)[:200]}") from None
    try:
        generator.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        # The full message lists every key; the first lines say enough.
        detail = " ".join(str(exc).split())[:300]
        raise ValueError(f"G_ema's tensors do not match a Generator built from its recorded configuration: {detail}") from None
    return generator.eval().requires_grad_(False)


def generator_from_record(record: Any) -> Generator:
    """Build our Generator from a G_ema PersistentRecord and load its tensors strictly."""
    if not isinstance(record, PersistentRecord):
        raise ValueError(f"expected a persistent network object, got {type(record).__name__}")
    kwargs = _generator_kwargs(record)
    state_dict: dict[str, torch.Tensor] = {}
    _collect_state_dict(record, "", state_dict)
    return _build(kwargs, state_dict)


def _load_state_dict_file(path: str | os.PathLike[str]) -> Generator:
    """A torch.save'd {'config': Generator kwargs, 'state_dict': G_ema.state_dict()} (weights_only)."""
    size = os.path.getsize(path)
    if size > max_upload_bytes():
        raise ValueError(f"the generator file is {size / 2**20:.0f} MB; at most {max_upload_bytes() / 2**20:.0f} MB are read")
    try:
        check_torch_file(path, name="the generator file")
    except PickleRefused as exc:
        raise UnsafePickleError(str(exc)) from None
    except NotAPickleError:
        raise ValueError("not a generator file PyTorch can read (the file is damaged or in another format)") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UnsafePickleError("refused by torch.load(weights_only=True): the file holds something other than "
                                "tensors and plain data (nothing from it was executed)") from None
    except Exception:  # noqa: BLE001 - a damaged zip, a lying record size ...
        raise ValueError("not a generator file PyTorch can read (the file is damaged or in another format)") from None
    if not (isinstance(data, dict) and isinstance(data.get("config"), dict) and isinstance(data.get("state_dict"), dict)):
        raise ValueError(f"{Path(path).name}: expected a dict with 'config' (Generator kwargs) and 'state_dict'")
    state_dict = data["state_dict"]
    if len(state_dict) > _MAX_STATE_ENTRIES or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{Path(path).name}: 'state_dict' must map names to tensors")
    return _build(_plain(data["config"]), state_dict)


def _load(path: str | os.PathLike[str]) -> Generator:
    if zipfile.is_zipfile(path):
        return _load_state_dict_file(path)
    data = read_network_pickle(path)
    if "G_ema" not in data:
        keys = ", ".join(sorted(str(k)[:20] for k in list(data)[:10]))
        raise ValueError(f"{Path(path).name}: no 'G_ema' in this pickle (keys: {keys})")
    return generator_from_record(data["G_ema"])


def load_stylegan2_ada_pickle(path: str | os.PathLike[str]) -> Generator:
    """G_ema of a StyleGAN2-ADA network pickle as our Generator (eval mode, float32, CPU).

    Also accepts a torch.save file (zip format) holding {'config': ..., 'state_dict': ...}.
    Raises UnsafePickleError for anything outside the allow-list, ValueError for other problems.

    On failure nothing from the file stays alive: the error raised here is created after the failed
    attempt's frames (which hold the unpickled data) have been dropped, with no chained exception.
    """
    failure: tuple[type[ValueError], str] | None = None
    try:
        return _load(path)
    except UnsafePickleError as exc:
        failure = (UnsafePickleError, str(exc))
    except ValueError as exc:
        failure = (ValueError, str(exc))
    except MemoryError:
        failure = (ValueError, "not enough memory to load this generator")
    except RecursionError:
        failure = (ValueError, "the pickle nests its objects too deeply for a network pickle")
    except Exception:  # noqa: BLE001 - anything else a crafted file provokes: one sentence, nothing kept
        failure = (ValueError, "not a StyleGAN2-ADA network pickle (the file is damaged or in another format)")
    finally:
        if failure is not None:
            # A crafted pickle can build reference cycles; collect the young generations now (a full
            # collection costs ~0.3 s with torch loaded, and anything older is bounded by the file's size).
            gc.collect(1)
    kind, message = failure
    raise kind(message)
