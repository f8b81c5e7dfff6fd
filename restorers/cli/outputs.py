"""Output names for batch commands that never destroy work.

``restore same/ -o same/`` reads a.png and a_lanczos.png; the first one's output is a_lanczos.png. Every
input is collected before anything is written, and an output name that is one of the inputs, that an
earlier output of this run took, or (without --overwrite) that is an existing file, gets -2, -3 ... before
its extension instead. Inputs are never overwritten, with or without --overwrite.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def _key(path: Path) -> str:
    # Case-folded: on a case-insensitive disk (macOS, Windows) A.png and a.png are one file. On Linux this
    # only ever renames an output that did not strictly need it, which loses nothing.
    return os.path.normcase(str(path.resolve())).casefold()


class OutputNames:
    """Hands out output paths for one command run; ``notes`` says each name that had to change and why."""

    def __init__(self, inputs: Iterable[Path], overwrite: bool = False) -> None:
        self.inputs = {_key(Path(p)) for p in inputs}
        self.overwrite = overwrite
        self.claimed: set[str] = set()
        self.notes: list[str] = []

    def _why_taken(self, path: Path) -> str | None:
        key = _key(path)
        if key in self.inputs:
            return "is one of the inputs"
        if key in self.claimed:
            return "is another output of this run"
        if not self.overwrite and path.exists():
            return "exists (--overwrite replaces existing files)"
        return None

    def claim(self, path: str | Path) -> Path:
        """``path``, or the first free ``stem-K.suffix`` (K = 2, 3, ...) when ``path`` is taken."""
        path = Path(path)
        candidate, k = path, 1
        why = self._why_taken(candidate)
        reason = why
        while why is not None:
            k += 1
            candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
            why = self._why_taken(candidate)
        self.claimed.add(_key(candidate))
        if candidate != path:
            self.notes.append(f"{path} {reason}: writing {candidate.name} instead")
        return candidate
