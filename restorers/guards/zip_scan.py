"""Zip archives judged before zipfile reads them: entry count from the end record, no overlapping entries.

``zipfile.ZipFile(path)`` parses the whole central directory into ZipInfo objects (about 500 bytes each)
before anyone can count them: 4 M entries in a 350 MB upload cost +1.9 GB. The end-of-central-directory
record (the last 22 bytes, or within the last 64 KiB when there is a comment) says how many entries
there are and how many bytes the directory takes, so both are checked here first. Once opened, entries
whose data overlap (many names pointing at one compressed member, the "overlapping zip bomb") are
refused: Python 3.11's zipfile does not object to them.
"""
from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .limits import LimitError

_EOCD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries here, entries total, cd size, cd offset, comment
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, zip64 end record offset, disks
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disks, entries here/total, cd size, offset
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_LOCAL_HEADER = 30  # bytes of a local file header before its name and extra field
_MAX_COMMENT = 0xFFFF
_MAX_ENTRY_BYTES = 1024  # directory bytes allowed per entry on average (a 46-byte record and its name)
_DIRECTORY_SLACK = 1 << 20  # and 1 MB on top, so a few very long names still pass


class ZipRefused(LimitError):
    """A zip is refused before it is read: too many entries, or entries that overlap."""


@dataclass(frozen=True)
class ZipDirectory:
    """What the end record says: entries (the larger of the count and what the directory's size can hold)."""

    entries: int
    directory_bytes: int


def _end_record(path: Path) -> ZipDirectory | None:
    size = path.stat().st_size
    if size < _EOCD.size:
        return None
    with open(path, "rb") as fh:
        tail = min(size, _EOCD.size + _MAX_COMMENT)
        fh.seek(size - tail)
        data = fh.read(tail)
        at = data.rfind(_EOCD_SIG)
        if at < 0 or len(data) - at < _EOCD.size:
            return None
        _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(data, at)
        if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and at >= _ZIP64_LOCATOR.size:
            locator = data[at - _ZIP64_LOCATOR.size:at]
            sig, _disk, offset, _disks = _ZIP64_LOCATOR.unpack(locator)
            if sig == _ZIP64_LOCATOR_SIG and 0 <= offset <= size - _ZIP64_EOCD.size:
                fh.seek(offset)
                record = fh.read(_ZIP64_EOCD.size)
                fields = _ZIP64_EOCD.unpack(record)
                if fields[0] == _ZIP64_EOCD_SIG:
                    entries, cd_size = fields[7], fields[8]
    return ZipDirectory(entries, cd_size)


def is_zip(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` ends in a zip end record (what zipfile.is_zipfile and ZipFile look for): a renamed
    zip and a PNG with a zip appended both count, so every reader and estimate treats them the same way."""
    try:
        return _end_record(Path(path)) is not None
    except OSError:
        return False


def read_directory_size(path: str | os.PathLike[str]) -> ZipDirectory:
    """Entries and directory bytes of a zip, read from its end record (nothing else is parsed)."""
    found = _end_record(Path(path))
    if found is None:
        raise zipfile.BadZipFile(f"{Path(path).name}: not a zip file (no end-of-central-directory record)")
    return found


def count_entries(path: str | os.PathLike[str]) -> int:
    """Entries the zip's directory holds, as its end record says."""
    return read_directory_size(path).entries


def check_no_overlap(archive: zipfile.ZipFile, label: str) -> None:
    """Refuse entries whose compressed data overlap another entry's (or the directory): a zip of a few
    kB can otherwise list one large member thousands of times."""
    infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
    end = getattr(archive, "start_dir", None)
    for here, after in zip(infos, infos[1:] + [None]):
        limit = after.header_offset if after is not None else end
        if limit is None:
            continue
        # A lower bound of the member's local span (its name and extra field come on top).
        if here.header_offset + _LOCAL_HEADER + here.compress_size > limit:
            raise ZipRefused(f"{label}: its entries overlap ('{Path(here.filename).name[:60]}' shares its data "
                             "with another entry); such a zip repeats one member many times, so it is not read")


def open_zip(path: str | os.PathLike[str], max_entries: int, label: str | None = None,
             setting_hint: str = "") -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)`` once its end record allows it: at most ``max_entries`` entries (0: no
    limit) and no overlapping entries. Raises ZipRefused (a LimitError) or zipfile.BadZipFile."""
    path = Path(path)
    label = label or path.name
    found = read_directory_size(path)
    hint = f" (raise ${setting_hint} to allow more)" if setting_hint else ""
    if max_entries and found.entries > max_entries:
        raise ZipRefused(f"{label} lists {found.entries} entries; at most {max_entries} are read{hint}")
    # A count that lies low cannot hide entries: zipfile parses every byte of the directory (46 or more per
    # entry), so the directory's size is bounded too, with room for long names.
    if max_entries and found.directory_bytes > max_entries * _MAX_ENTRY_BYTES + _DIRECTORY_SLACK:
        raise ZipRefused(f"{label}: its directory takes {found.directory_bytes / 2**20:.1f} MB, more than "
                         f"{max_entries} entries need{hint}")
    archive = zipfile.ZipFile(path)
    try:
        check_no_overlap(archive, label)
    except BaseException:
        archive.close()
        raise
    return archive
