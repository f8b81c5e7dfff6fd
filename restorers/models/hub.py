"""Finding, verifying and loading model weights: the only module that touches the network.

Resolution order for every weights file:

1. a local override directory (``RESTORERS_WEIGHTS_DIR``): ``<dir>/<basename>`` or ``<dir>/<repo_id>/<filename>``;
2. ``huggingface_hub.hf_hub_download`` (which honours ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE``);
3. size and sha256 verification against the pinned values (once per file per process);
4. ``torch.load(weights_only=True, map_location="cpu")`` or safetensors.

Each way this can fail has its own exception, and every message says which file is wanted, from where,
and how to provide it offline.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

from ..guards.limits import setting
from ..guards.pickle_scan import NotAPickleError, check_torch_file

WEIGHTS_DIR_ENV = "RESTORERS_WEIGHTS_DIR"
# How long an unreachable Hub is remembered before the next download attempt probes it again, and how
# long that probe may take. Without this every click on a model with missing weights waited ~23 s for
# huggingface_hub's retries (1+2+4+8+8 s), and a queued job waited behind it.
HUB_RETRY_ENV = "RESTORERS_HUB_RETRY_SECONDS"
DEFAULT_HUB_RETRY_SECONDS = 300.0
HUB_PROBE_TIMEOUT_ENV = "RESTORERS_HUB_PROBE_TIMEOUT"
DEFAULT_HUB_PROBE_TIMEOUT = 3.0

# What will happen when the file is asked for. "override-bad" and "cached-bad": the file is there but fails
# its size/sha256 check, so loading it raises; "missing": offline (or the Hub is unreachable) and not cached.
WeightsState = Literal["override", "override-bad", "cached", "cached-bad", "downloadable", "missing"]


@dataclass(frozen=True)
class WeightsFile:
    """One published checkpoint, pinned by repo, path and content hash."""

    repo_id: str
    filename: str
    # The content pin. None is allowed only with a full commit revision, which pins the content itself
    # (the commit fixes the file's LFS pointer) when no published sha256 could be verified.
    sha256: str | None
    size: int | None = None
    # None means the repo's default branch; the sha256 is then the real pin (a moved branch fails the check).
    revision: str | None = None
    repo_type: str = "model"
    # Not on the Hub: where the file is published (a URL). It is only ever read from $RESTORERS_WEIGHTS_DIR
    # (a 'bring your own checkpoint' model); no pin is needed since nothing is downloaded.
    local_only: str = ""

    def __post_init__(self) -> None:
        commit = self.revision is not None and len(self.revision) == 40 and all(c in "0123456789abcdef" for c in self.revision)
        if self.sha256 is None and not commit and not self.local_only:
            raise ValueError(f"{self.repo_id}/{self.filename}: pin it by sha256 or by a full commit revision")

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        if self.local_only:
            return self.local_only
        prefix = "spaces/" if self.repo_type == "space" else "datasets/" if self.repo_type == "dataset" else ""
        return f"https://huggingface.co/{prefix}{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"

    def offline_hint(self) -> str:
        if self.local_only:
            return (f"It is not on the Hugging Face Hub: download it from {self.local_only} and put it in the "
                    f"directory named by ${WEIGHTS_DIR_ENV} as '{self.basename}' (or load it as your own checkpoint).")
        pin = f"sha256 {self.sha256[:12]}..." if self.sha256 else f"commit {self.revision[:12]}"
        return (
            f"To provide it offline, download {self.url} ({pin}) and either put it in the "
            f"directory named by ${WEIGHTS_DIR_ENV} as '{self.basename}', or place it in a Hugging Face cache "
            f"(HF_HUB_CACHE) under repo '{self.repo_id}'."
        )


class WeightsError(RuntimeError):
    """Base class of every weights problem a user can meet; fetch() sets ``weights`` to the file it concerns."""

    weights: WeightsFile | None = None


class WeightsNotFoundError(WeightsError):
    """The file is neither in an override directory nor in the cache, and could not be downloaded."""


class WeightsHashMismatchError(WeightsError):
    """The file exists but its sha256 differs from the pinned one (wrong or tampered file)."""


class WeightsCorruptError(WeightsError):
    """The file is truncated or is not a readable checkpoint."""


_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(weights: WeightsFile, path: Path) -> Path:
    """Check size and sha256 of ``path`` against the pin; remembered per (path, size, mtime)."""
    key = _file_key(path)
    with _verified_lock:
        if _verified.get(key) == weights.sha256:
            return path
    size = key[1]
    if weights.sha256 is None:
        return path  # pinned by commit revision (see WeightsFile.sha256)
    if weights.size is not None and size != weights.size:
        raise WeightsCorruptError(
            f"{path} has {size} bytes but {weights.repo_id}/{weights.filename} has {weights.size}: the file is "
            f"truncated or not the published one. Delete it and download again. {weights.offline_hint()}"
        )
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise WeightsHashMismatchError(
            f"sha256 mismatch for {path}: expected {weights.sha256} ({weights.repo_id}/{weights.filename}), "
            f"got {actual}. This is a different file from the pinned one; it is not loaded. {weights.offline_hint()}"
        )
    with _verified_lock:
        _verified[key] = actual
    return path


def override_path(weights: WeightsFile) -> Path | None:
    """The file in the local override directory, if one is configured and holds it."""
    root = os.environ.get(WEIGHTS_DIR_ENV)
    if not root:
        return None
    for candidate in (Path(root) / weights.basename, Path(root) / weights.repo_id / weights.filename):
        if candidate.is_file():
            return candidate
    return None


def _cache_dir() -> str | None:
    # Read at call time (not at import) so that a test or a Space can point to another cache.
    return os.environ.get("HF_HUB_CACHE") or None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE is set (read at call time): nothing is downloaded then."""
    return _offline()


def cached_path(weights: WeightsFile) -> Path | None:
    """The file in the Hugging Face cache, without any network access."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        weights.repo_id,
        weights.filename,
        cache_dir=_cache_dir(),
        revision=weights.revision,
        repo_type=weights.repo_type,
    )
    return Path(found) if isinstance(found, str) else None


@dataclass(frozen=True)
class WeightsStatus:
    """What asking for a weights file will do now, without touching the network."""

    state: WeightsState
    path: Path | None = None
    reason: str = ""  # why a file is bad or missing, in words


_bad: dict[tuple[str, int, int], str] = {}  # failed checks, by (path, size, mtime), so a bad file is hashed once


def _check_local(weights: WeightsFile, path: Path) -> str:
    """'' if ``path`` passes verify(), else the short reason it fails (both remembered per file version)."""
    key = _file_key(path)
    with _verified_lock:
        if key in _bad:
            return _bad[key]
    try:
        verify(weights, path)
        return ""
    except WeightsCorruptError:
        reason = f"{key[1]} bytes where the pinned file has {weights.size}"
    except WeightsHashMismatchError:
        reason = "its sha256 differs from the pinned one"
    with _verified_lock:
        _bad[key] = reason
    return reason


def _blob_matches_pin(weights: WeightsFile, path: Path) -> bool:
    # The Hub cache stores an LFS file as blobs/<sha256>: a blob named after the pin with the pinned size
    # is the pinned file unless someone edited the cache by hand, and fetch() still hashes it before use.
    # This keeps the Models tab from hashing a gigabyte of cached weights on every refresh.
    try:
        blob = path.resolve()
        return blob.name == weights.sha256 and (weights.size is None or blob.stat().st_size == weights.size)
    except OSError:
        return False


def check(weights: WeightsFile) -> WeightsStatus:
    """Where the file would come from now and whether it will load: override, cache, download, or nowhere."""
    local = override_path(weights)
    if local is not None:
        reason = _check_local(weights, local)
        return WeightsStatus("override-bad" if reason else "override", local, reason)
    if weights.local_only:
        return WeightsStatus("missing", None, f"not on the Hub; put '{weights.basename}' in ${WEIGHTS_DIR_ENV}")
    local = cached_path(weights)
    if local is not None:
        reason = "" if _blob_matches_pin(weights, local) else _check_local(weights, local)
        return WeightsStatus("cached-bad" if reason else "cached", local, reason)
    if _offline():
        return WeightsStatus("missing", None, "HF_HUB_OFFLINE is set and the file is not cached")
    down = hub_unreachable()
    if down:
        return WeightsStatus("missing", None, down)
    stale = _hub_down
    if stale is not None:
        # The remembered failure is older than the retry interval: ask again in the background, and until the
        # Hub answers keep saying what was last seen (pickers opened meanwhile must not drift to "downloads").
        _reprobe_in_background(weights)
        return WeightsStatus("missing", None, f"the Hub at {hub_endpoint()} did not answer "
                                              f"{time.monotonic() - stale[0]:.0f} s ago ({stale[1]}); asking again now")
    return WeightsStatus("downloadable")


def state(weights: WeightsFile) -> WeightsState:
    """The state part of check(): 'override', 'override-bad', 'cached', 'cached-bad', 'downloadable', 'missing'."""
    return check(weights).state


# --- An unreachable Hub is detected once and remembered ------------------------------------------------

_hub_down: tuple[float, str] | None = None  # (time.monotonic() of the failure, what failed)
_hub_lock = threading.Lock()  # one probe at a time; concurrent requests wait for its answer


def hub_retry_seconds() -> float:
    return setting(HUB_RETRY_ENV, DEFAULT_HUB_RETRY_SECONDS)


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_unreachable() -> str | None:
    """Why the Hub is known to be unreachable right now (a remembered recent failure), or None."""
    down = _hub_down
    if down is None:
        return None
    age = time.monotonic() - down[0]
    retry = hub_retry_seconds()
    if age >= retry:
        return None
    return (f"the Hub at {hub_endpoint()} could not be reached {age:.0f} s ago ({down[1]}); "
            f"the next attempt is in {retry - age:.0f} s")


def mark_hub_unreachable(what: str) -> None:
    global _hub_down
    _hub_down = (time.monotonic(), what)


def forget_hub_failure() -> None:
    """Try the Hub again on the next download (tests, or after the network came back)."""
    global _hub_down
    _hub_down = None


def _probe_hub(weights: WeightsFile, timeout: float) -> str | None:
    """None if the Hub answers a HEAD request for the file within ``timeout`` s, else what went wrong.

    Any HTTP answer (even 401/404) means the Hub is reachable; hf_hub_download then gives the precise error.
    The request runs in a daemon thread so a hung DNS lookup cannot hold the caller past the timeout."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import get_session

    url = hf_hub_url(weights.repo_id, weights.filename, repo_type=weights.repo_type, revision=weights.revision)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            get_session().head(url, timeout=timeout, follow_redirects=False)
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - every transport failure means "unreachable" here
            outcome.append(f"{type(exc).__name__}: {exc}".rstrip(": "))

    thread = threading.Thread(target=probe, name="restorers-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def _ensure_hub_reachable(weights: WeightsFile) -> None:
    """Raise WeightsNotFoundError at once when the Hub is known (or just found) to be unreachable."""
    with _hub_lock:
        down = hub_unreachable()
        if down is None:
            problem = _probe_hub(weights, setting(HUB_PROBE_TIMEOUT_ENV, DEFAULT_HUB_PROBE_TIMEOUT))
            if problem is None:
                forget_hub_failure()  # the Hub answered: an older failure no longer describes it
                return
            mark_hub_unreachable(problem)
            down = hub_unreachable() or problem
    raise WeightsNotFoundError(
        f"weights {weights.repo_id}/{weights.filename} are not cached and could not be downloaded "
        f"({down}). {weights.offline_hint()}"
    )


_reprobe: threading.Thread | None = None


def _reprobe_in_background(weights: WeightsFile) -> None:
    """One probe at a time after a remembered failure expired (check() must never wait on the network)."""
    global _reprobe
    with _verified_lock:
        if _reprobe is not None and _reprobe.is_alive():
            return

        def run() -> None:
            with contextlib.suppress(WeightsNotFoundError):
                _ensure_hub_reachable(weights)

        _reprobe = threading.Thread(target=run, name="restorers-hub-reprobe", daemon=True)
        _reprobe.start()


def probe_hub_in_background(candidates: Iterable[WeightsFile | None]) -> threading.Thread | None:
    """Start the probe of _ensure_hub_reachable in a daemon thread, so an unreachable Hub is known soon after
    start-up instead of at the first click (the app then neither preselects nor offers in its examples
    models that would have to download). The file asked for is the first of ``candidates`` that is not here
    (registry.probe_hub() passes every registered file). Nothing to do offline, while a failure is
    remembered, or when no file needs the Hub; the caller never waits, and a download meanwhile waits for
    this probe's answer (one at a time)."""
    if _offline() or hub_unreachable():
        return None
    weights = next((w for w in candidates if w is not None and not w.local_only and check(w).state == "downloadable"),
                   None)
    if weights is None:
        return None

    def run() -> None:
        with contextlib.suppress(WeightsNotFoundError):
            _ensure_hub_reachable(weights)

    thread = threading.Thread(target=run, name="restorers-hub-startup-probe", daemon=True)
    thread.start()
    return thread


# --- Download progress ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report of a download: bytes so far, total (None if unknown), seconds since it started."""

    filename: str
    done: int
    total: int | None
    seconds: float

    @property
    def bytes_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total else None

    def describe(self) -> str:
        """E.g. 'Downloading GPEN-BFR-512.pth: 120/284 MB, 12 MB/s'."""
        total = f"/{self.total / 1e6:.0f}" if self.total else ""
        return (f"Downloading {self.filename}: {self.done / 1e6:.0f}{total} MB, "
                f"{self.bytes_per_second / 1e6:.1f} MB/s")


ProgressCallback = Callable[[DownloadProgress], None]

# Who hears about downloads: set per call (fetch(progress=...)), per block of code (with
# download_progress(...)), or once for the process (set_default_download_progress, e.g. by the app,
# whose callback finds the current request itself). The engine never imports a UI.
_progress_var: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("restorers_download",
                                                                                         default=None)
_default_progress: ProgressCallback | None = None
PROGRESS_INTERVAL = 0.25  # seconds between two reports (the last one is always sent)


@contextlib.contextmanager
def download_progress(callback: ProgressCallback | None) -> Iterator[None]:
    """Report every weights download started inside this block to ``callback``."""
    token = _progress_var.set(callback)
    try:
        yield
    finally:
        _progress_var.reset(token)


def set_default_download_progress(callback: ProgressCallback | None) -> None:
    """Report downloads that have no other listener to ``callback`` (process-wide)."""
    global _default_progress
    _default_progress = callback


def _progress_tqdm(filename: str, callback: ProgressCallback):
    """A silent tqdm class for hf_hub_download(tqdm_class=...) that forwards byte counts to ``callback``."""
    from tqdm import tqdm

    class Reporter(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs["disable"] = True  # no console bar; the callback is the display
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = kwargs.get("total")
            self._start = time.monotonic()
            self._last = 0.0

        def update(self, n=1):
            super().update(n)
            self._done += int(n or 0)
            now = time.monotonic()
            finished = self._total is not None and self._done >= self._total
            if finished or now - self._last >= PROGRESS_INTERVAL:
                self._last = now
                callback(DownloadProgress(filename, self._done, self._total, now - self._start))

    return Reporter


def fetch(weights: WeightsFile, progress: ProgressCallback | None = None) -> Path:
    """Return a verified local path to ``weights``, downloading it if allowed and needed.

    ``progress`` (or the listener of download_progress() / set_default_download_progress()) hears the
    download's bytes done, total and speed. Errors carry the file as ``exc.weights``, so a caller that
    loads several models (a face model with its detector and background upsampler) can say which failed."""
    try:
        return _fetch(weights, progress)
    except WeightsError as exc:
        exc.weights = weights
        raise


def _fetch(weights: WeightsFile, progress: ProgressCallback | None) -> Path:
    # A cached file whose sha256 matches the pin is final: no need to ask the Hub (which, unreachable,
    # costs retries before hf_hub_download falls back to the cache anyway).
    local = override_path(weights) or (None if weights.local_only else cached_path(weights))
    if local is None and weights.local_only:
        raise WeightsNotFoundError(f"weights '{weights.basename}' are missing. {weights.offline_hint()}")
    if local is None:
        if not _offline():
            _ensure_hub_reachable(weights)
        callback = progress or _progress_var.get() or _default_progress
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            local = Path(
                hf_hub_download(
                    weights.repo_id,
                    weights.filename,
                    revision=weights.revision,
                    repo_type=weights.repo_type,
                    cache_dir=_cache_dir(),
                    local_files_only=_offline(),
                    tqdm_class=_progress_tqdm(weights.basename, callback) if callback else None,
                )
            )
        except LocalEntryNotFoundError as exc:
            if not _offline():
                # The probe passed but the download could not connect: remember it like a failed probe.
                mark_hub_unreachable(f"{type(exc).__name__}: {exc}"[:200])
            raise WeightsNotFoundError(
                f"weights {weights.repo_id}/{weights.filename} are not cached and could not be downloaded "
                f"({'HF_HUB_OFFLINE is set' if _offline() else 'the Hub is unreachable'}). {weights.offline_hint()}"
            ) from exc
        except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
            raise WeightsNotFoundError(
                f"{weights.url} does not exist on the Hub (repo, revision or file missing). {weights.offline_hint()}"
            ) from exc
        except (HfHubHTTPError, OSError) as exc:
            raise WeightsNotFoundError(
                f"downloading {weights.url} failed: {exc}. {weights.offline_hint()}"
            ) from exc
    return verify(weights, local)


def read_checkpoint(path: Path) -> object:
    """Deserialise a checkpoint without running code stored in it, nor building more than its limits allow.

    A .pth/.pt is first judged without unpickling (guards.pickle_scan: zip directory, declared sizes and
    ratios, pickle opcodes, tensor count); a file past a limit raises LimitError with its own message."""
    if path.suffix.lower() != ".safetensors":
        try:
            check_torch_file(path, name=f"'{path.name}'")
        except NotAPickleError as exc:
            raise WeightsCorruptError(f"{path} is not a readable checkpoint ({exc})") from None
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        import torch

        # map_location: several published files hold CUDA storages and fail to load on a CPU machine otherwise.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the same thing to the user
        raise WeightsCorruptError(f"{path} is not a readable checkpoint ({unreadable_reason(exc)})") from None


# torch's own words for a refused file advise re-running with weights_only=False, i.e. running the code the
# file may hold. That advice must never reach a user: every torch.load failure is said in our words here.
_UNSUPPORTED_GLOBAL = "Unsupported global: GLOBAL "


def unreadable_reason(exc: BaseException) -> str:
    """Why torch.load / safetensors could not read a file, in a short sentence with no torch advice in it."""
    import pickle

    text = str(exc)
    if "Weights only load failed" in text or isinstance(exc, pickle.UnpicklingError):
        if _UNSUPPORTED_GLOBAL in text:
            name = text.split(_UNSUPPORTED_GLOBAL, 1)[1].split(" ", 1)[0][:120]
            return (f"it holds a Python object ({name}) besides tensors and plain data; such objects are "
                    "never loaded here, because loading them could run code")
        return "its contents are not tensors and plain data saved by torch.save: damaged, or another format"
    if isinstance(exc, EOFError):
        return "the file is empty or cut short"
    if "central directory" in text or "zip archive" in text:
        return "a damaged or incomplete zip archive; the file may be cut short"
    if isinstance(exc, MemoryError):
        return "not enough memory to read it"
    if type(exc).__name__ in ("SafetensorError",) or "safetensors" in type(exc).__module__:
        return "not a valid .safetensors file"
    return "neither a file saved by torch.save nor a .safetensors file"


def unwrap_state_dict(checkpoint: object, keys: tuple[str, ...] = ("params_ema", "params")) -> dict:
    """Pick the state_dict out of a checkpoint (BasicSR wrappers, bare dicts, DataParallel prefixes)."""
    if not isinstance(checkpoint, dict):
        raise WeightsCorruptError(f"expected a dict checkpoint, got {type(checkpoint).__name__}")
    for key in keys:
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    if any(k.startswith("module.") for k in checkpoint):
        checkpoint = {k.removeprefix("module."): v for k, v in checkpoint.items()}
    return dict(checkpoint)


def load_weights(weights: WeightsFile, keys: tuple[str, ...] = ("params_ema", "params")) -> dict:
    """fetch -> verify -> safe load -> unwrapped state_dict (tensors on CPU)."""
    return unwrap_state_dict(read_checkpoint(fetch(weights)), keys)
