"""The app's one temporary root, and its cleanup. No gradio import here: app.py points gradio's own cache
into this root (GRADIO_TEMP_DIR) before gradio is imported.

    $RESTORERS_TMP (default <tmp>/restorers-app)/
        run-<pid>/                 one folder per server process
            <action>-<id>/         one folder per request (request_dir), deleted after $RESTORERS_TMP_MAX_AGE_S
            gradio/                gradio's uploads and copies of results (its delete_cache sweeps them)

A folder per process means a sweep never touches the files of another app running beside this one (gradio's
cache is content-addressed: two apps sharing one folder would delete each other's files on shutdown), and the
folders of processes that are gone (a crash, a restart) are deleted at the next start.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

TMP_ENV = "RESTORERS_TMP"
TMP_MAX_AGE_ENV = "RESTORERS_TMP_MAX_AGE_S"
DEFAULT_TMP_MAX_AGE_S = 3600  # request folders older than this are deleted (gradio has copied them by then)
# gradio 6's File component leaves one empty "tmpXXXXXXXX" file in its cache per file it hands a handler
# (components/file.py makes a NamedTemporaryFile and keeps only the upload's path). An upload in progress is
# also a tmp* file there, but it grows as it arrives: only files empty for this long are leftovers.
EMPTY_TMP_MIN_AGE_S = 60
OUTPUT_ROOT = Path(os.environ.get(TMP_ENV) or Path(tempfile.gettempdir()) / "restorers-app")
RUN_DIR = OUTPUT_ROOT / f"run-{os.getpid()}"
GRADIO_DIR = RUN_DIR / "gradio"
_sweep_lock = threading.Lock()
_last_sweep = [0.0]


def tmp_max_age_s() -> float:
    from restorers.guards import setting

    return setting(TMP_MAX_AGE_ENV, DEFAULT_TMP_MAX_AGE_S)


def use_for_gradio() -> None:
    """Point gradio's cache at this process's folder, unless GRADIO_TEMP_DIR is already set. Call before
    gradio is imported (it reads the variable at import time)."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(GRADIO_DIR))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def sweep_empty_gradio_files(now: float | None = None, min_age_s: float = EMPTY_TMP_MIN_AGE_S) -> int:
    """Delete the empty tmp* files gradio left at the top of its cache folder; returns how many."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or GRADIO_DIR)
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.name.startswith("tmp") or not entry.is_file():
                continue
            info = entry.stat()
            if info.st_size == 0 and now - info.st_mtime > min_age_s:
                entry.unlink()
                removed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to delete
    return removed


def sweep_outputs(max_age_s: float | None = None, force: bool = False) -> int:
    """Delete this process's request folders older than ``max_age_s`` (default $RESTORERS_TMP_MAX_AGE_S) and the
    whole folder of every server process that is gone. Runs at most once a minute unless ``force``; returns how
    many folders were deleted."""
    now = time.time()
    with _sweep_lock:
        if not force and now - _last_sweep[0] < 60:
            return 0
        _last_sweep[0] = now
    age = tmp_max_age_s() if max_age_s is None else max_age_s
    removed = sweep_empty_gradio_files(now)
    if not OUTPUT_ROOT.is_dir():
        return removed
    for entry in OUTPUT_ROOT.iterdir():
        try:
            if entry.name.startswith("run-") and entry.name[4:].isdigit():
                if not _pid_alive(int(entry.name[4:])):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
                    continue
                folders = [f for f in entry.iterdir() if f.name != GRADIO_DIR.name] if entry == RUN_DIR else []
            else:
                folders = [entry]  # a folder from before per-process roots
            for folder in folders:
                if now - folder.stat().st_mtime > age:
                    if folder.is_dir():
                        shutil.rmtree(folder, ignore_errors=True)
                    else:
                        folder.unlink(missing_ok=True)
                    removed += 1
        except OSError:
            continue
    return removed
