"""Pickles and PyTorch files walked opcode by opcode before anything unpickles them.

``torch.load(weights_only=True)`` runs no code, but it still builds every object the pickle asks for:
a 195 KB zip whose deflated ``data.pkl`` holds 200 M ``EMPTY_SET`` opcodes costs tens of GB before any
error. Here the opcodes are only decoded (a length per argument, nothing built), counted and bounded:
opcodes, persistent ids (tensor storages), container nesting; the whole pickle's size is bounded before
it is read at all. A torch zip is judged by its end record and directory first (guards.zip_scan): entry
count, each member's declared size and compression ratio, before a byte is inflated.
"""
from __future__ import annotations

import mmap
import os
import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from . import limits
from .limits import LimitError
from .zip_scan import ZipRefused, count_entries, open_zip

Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


class NotAPickleError(ValueError):
    """The bytes are not a complete pickle (damaged, truncated, or another format)."""


class PickleRefused(LimitError):
    """A pickle (or a PyTorch file) asks for more than the limits allow; nothing was unpickled."""


# Argument sizes by opcode byte, from pickletools' own table: n >= 0 fixed bytes, or how the length is given.
_LINE, _TWO_LINES = -1, -10
_KINDS: dict[int, int | None] = {}
for _op in pickletools.opcodes:
    _code = _op.code.encode("latin-1")[0]
    if _op.arg is None:
        _KINDS[_code] = None
    elif _op.arg.name == "stringnl_noescape_pair":
        _KINDS[_code] = _TWO_LINES
    else:
        _KINDS[_code] = _op.arg.n
_NAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
_MARK, _STOP = ord("("), ord(".")
_POPS_MARK = {op.code.encode("latin-1")[0] for op in pickletools.opcodes if pickletools.markobject in op.stack_before}
_PERSISTENT = {ord("P"), ord("Q")}
_MAX_DEPTH = 64  # nested MARKs; a state_dict uses 2-3, NVIDIA's network pickles fewer than 10
_LENGTH_BYTES = {-2: 1, -3: 4, -4: 4, -5: 8}


@dataclass(frozen=True)
class PickleCount:
    """What one pickle holds: opcodes, persistent ids (storages in a torch file), where it ended."""

    ops: int
    persistent_ids: int
    end: int


def scan(data: Buffer, start: int = 0, *, max_ops: int | None = None, what: str = "the pickle",
         max_persistent: int | None = None) -> PickleCount:
    """Walk one pickle in ``data`` from ``start`` to its STOP, building nothing.

    Raises PickleRefused past ``max_ops`` opcodes (default: $RESTORERS_MAX_PICKLE_OPS), past
    ``max_persistent`` persistent ids (tensors in a torch file; None: no limit) or 64 nested containers,
    NotAPickleError on anything that is not a well-formed pickle."""
    limit = limits.max_pickle_ops() if max_ops is None else max_ops
    size = len(data)
    pos, ops, persistent, depth = start, 0, 0, 0
    kinds, find = _KINDS, data.find
    while True:
        if pos >= size:
            raise NotAPickleError(f"{what} ends before its STOP opcode: truncated, or not a pickle")
        code = data[pos]
        pos += 1
        ops += 1
        if ops > limit:
            raise PickleRefused(f"{what} holds more than {limit:,} pickle opcodes; a model file has far fewer, "
                                f"so it is refused before unpickling (${limits.MAX_PICKLE_OPS_ENV} raises it)")
        try:
            kind = kinds[code]
        except KeyError:
            raise NotAPickleError(f"{what} is not a pickle: unknown opcode 0x{code:02x} at byte {pos - 1}") from None
        if kind is None:
            if code == _STOP:
                return PickleCount(ops, persistent, pos)
            if code == _MARK:
                depth += 1
                if depth > _MAX_DEPTH:
                    raise PickleRefused(f"{what} nests containers more than {_MAX_DEPTH} deep")
            elif code in _POPS_MARK:
                depth -= 1
            elif code in _PERSISTENT:
                persistent += 1
                if max_persistent is not None and persistent > max_persistent:
                    raise _too_many_storages(what, persistent, max_persistent)
            continue
        if kind >= 0:
            pos += kind
        elif kind == _LINE or kind == _TWO_LINES:
            for _ in range(2 if kind == _TWO_LINES else 1):
                newline = find(b"\n", pos, min(size, pos + (1 << 16)))
                if newline < 0:
                    raise NotAPickleError(f"{what} is damaged: {_NAMES[code]} without the end of its line")
                pos = newline + 1
            if code in _PERSISTENT:
                persistent += 1
                if max_persistent is not None and persistent > max_persistent:
                    raise _too_many_storages(what, persistent, max_persistent)
        else:
            width = _LENGTH_BYTES[kind]
            if pos + width > size:
                raise NotAPickleError(f"{what} is truncated")
            length = int.from_bytes(data[pos:pos + width], "little", signed=kind == -3)
            if length < 0:
                raise NotAPickleError(f"{what} is damaged: a negative length")
            pos += width
            if pos + length > size:  # the bomb pattern: a length that only exists in the header
                raise PickleRefused(f"{what} declares a {length}-byte item but only {size - pos} bytes follow")
            pos += length
        if pos > size:
            raise NotAPickleError(f"{what} is truncated in a {_NAMES[code]} opcode")


# --- PyTorch files -----------------------------------------------------------------------------------------

# torch.save's legacy (non-zip) format: five pickles (magic number, protocol, sys info, the object, the
# storage keys), then raw storage bytes.
_LEGACY_PICKLES = 5


@dataclass(frozen=True)
class TorchFileCount:
    """What a PyTorch file holds, as far as the scan could tell without unpickling."""

    ops: int
    storages: int
    zip_format: bool


def _too_many_storages(name: str, storages: int, limit: int) -> PickleRefused:
    return PickleRefused(f"{name} holds more than {limit:,} tensors; up to {limit:,} are accepted in one checkpoint "
                         f"(${limits.MAX_CHECKPOINT_TENSORS_ENV} raises it)" if storages == limit + 1 else
                         f"{name} holds {storages:,} tensors; up to {limit:,} are accepted in one checkpoint "
                         f"(${limits.MAX_CHECKPOINT_TENSORS_ENV} raises it)")


def _scan_zip(path: Path, name: str) -> TorchFileCount:
    max_tensors = limits.max_checkpoint_tensors()
    # Entries: the storages plus data.pkl, byteorder, version (and .data/serialization_id in new files).
    max_entries = max_tensors + 16 if max_tensors else 0
    try:
        entries = count_entries(path)
    except zipfile.BadZipFile:
        raise NotAPickleError(f"{name} is not a readable PyTorch file: a damaged zip") from None
    if max_entries and entries > max_entries:
        raise PickleRefused(f"{name} lists {entries:,} zip entries, one per tensor; up to {max_tensors:,} tensors are "
                            f"accepted in one checkpoint (${limits.MAX_CHECKPOINT_TENSORS_ENV} raises it)")
    budget, ratio = limits.max_checkpoint_bytes(), limits.max_zip_ratio()
    pickle_limit = limits.max_checkpoint_pickle_bytes()
    try:
        with open_zip(path, max_entries, name) as archive:
            infos = archive.infolist()
            declared = sum(i.file_size for i in infos)
            if budget and declared > budget:
                raise PickleRefused(f"{name} unpacks to {declared / 2**20:,.0f} MB; checkpoints up to "
                                    f"{budget / 2**20:.0f} MB are accepted (${limits.MAX_CHECKPOINT_MB_ENV})")
            for info in infos:
                if info.file_size > 2**20 and info.file_size > ratio * max(info.compress_size, 1):
                    raise PickleRefused(f"{name}: member {info.filename[-60:]} is compressed "
                                        f"{info.file_size / max(info.compress_size, 1):,.0f}:1, more than the "
                                        f"{ratio:g}:1 allowed (${limits.MAX_ZIP_RATIO_ENV}); is it a zip bomb?")
            pickles = [i for i in infos if i.filename.endswith(".pkl")]
            if not pickles:
                raise NotAPickleError(f"{name} is a zip without a data.pkl: not a PyTorch checkpoint")
            ops = storages = 0
            for info in pickles:
                if pickle_limit and info.file_size > pickle_limit:
                    raise PickleRefused(f"{name}: its {Path(info.filename).name} is {info.file_size / 2**20:,.0f} MB; "
                                        f"a checkpoint's object pickle may have {pickle_limit / 2**20:.0f} MB "
                                        f"(${limits.MAX_CHECKPOINT_PICKLE_MB_ENV})")
                with archive.open(info) as member:
                    data = member.read(info.file_size + 1)
                if len(data) > info.file_size:
                    raise PickleRefused(f"{name}: {Path(info.filename).name} inflates past its declared size")
                count = scan(data, max_ops=limits.max_pickle_ops() - ops, what=name,
                             max_persistent=max_tensors - storages if max_tensors else None)
                ops, storages = ops + count.ops, storages + count.persistent_ids
    except ZipRefused as exc:
        raise PickleRefused(str(exc)) from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise NotAPickleError(f"{name} is not a readable PyTorch file: a damaged zip ({type(exc).__name__})") from None
    if max_tensors and storages > max_tensors:
        raise _too_many_storages(name, storages, max_tensors)
    return TorchFileCount(ops, storages, True)


def check_legacy_stream(data: Buffer, name: str) -> TorchFileCount:
    """The pickles at the start of a legacy torch.save stream (or one plain pickle), walked and bounded."""
    max_tensors = limits.max_checkpoint_tensors()
    pos = ops = storages = 0
    for index in range(_LEGACY_PICKLES):
        if index and pos >= len(data):
            break  # a plain pickle (one object) rather than torch.save's five
        count = scan(data, pos, max_ops=limits.max_pickle_ops() - ops, what=name,
                     max_persistent=max_tensors - storages if max_tensors else None)
        pos, ops, storages = count.end, ops + count.ops, storages + count.persistent_ids
    if max_tensors and storages > max_tensors:
        raise _too_many_storages(name, storages, max_tensors)
    return TorchFileCount(ops, storages, False)


def _scan_legacy(path: Path, name: str) -> TorchFileCount:
    with open(path, "rb") as fh:
        try:
            view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            raise NotAPickleError(f"{name} is empty") from None
        with view:
            return check_legacy_stream(view, name)


def check_torch_file(path: str | os.PathLike[str], name: str | None = None) -> TorchFileCount:
    """Judge a file before ``torch.load`` sees it: a zip by its directory (entries, sizes, ratios) and its
    pickles by their opcodes; a legacy file by the pickles at its start. Raises PickleRefused (a
    LimitError: over a limit, nothing unpickled) or NotAPickleError (not a PyTorch file)."""
    path = Path(path)
    name = name or f"'{path.name}'"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        return _scan_zip(path, name)
    return _scan_legacy(path, name)
