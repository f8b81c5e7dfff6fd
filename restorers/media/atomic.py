"""Output files that appear whole or not at all.

Every file the package writes is first written under a hidden temporary name in the same folder and
renamed to its final name only when complete (a rename within one folder is atomic on POSIX and
Windows). Ctrl-C, a full disk or an encoder error part-way leaves the final name untouched: either the
old file or nothing, never a truncated PNG, GIF or MP4.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PARTIAL_MARK = ".partial"


def partial_path(final: str | Path) -> Path:
    """A fresh hidden name beside ``final`` that keeps its extension (ffmpeg picks the container from it):
    ``out/a.png`` -> ``out/.a.1f2e3d4c.partial.png``."""
    final = Path(final)
    # The stem is cut so that a name near the file-system limit (255 bytes) still has room for the marks.
    return final.with_name(f".{final.stem[:100]}.{secrets.token_hex(4)}{PARTIAL_MARK}{final.suffix[:16]}")


def publish(made: str | Path, final: str | Path) -> Path:
    """Move a finished temporary file to its final name, readable like any file the user creates
    (files made by ``tempfile`` are private to their owner)."""
    made, final = Path(made), Path(final)
    os.replace(made, final)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(final, 0o666 & ~umask)
    return final


@contextmanager
def atomic_output(final: str | Path, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``final``, on any exit by an exception
    (KeyboardInterrupt included) it is removed and ``final`` is left as it was. ``make_parents``: create
    missing folders first (else a missing folder is an error, as for ``open``).

        with atomic_output("out/a.png") as tmp:
            image.save(tmp, format="PNG")
    """
    final = Path(final)
    if final.is_dir():
        raise IsADirectoryError(f"{final.name or final} is a folder; give a file name to write")
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(final)
    try:
        yield temporary
        if not temporary.exists():
            raise FileNotFoundError(f"{final.name}: nothing was written")
        publish(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(final: str | Path, text: str) -> Path:
    """``Path.write_text``, but the file appears complete or not at all (missing folders are made)."""
    with atomic_output(final) as partial:
        partial.write_text(text)
    return Path(final)
