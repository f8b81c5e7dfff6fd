"""What weights_status promises, an unreachable Hub remembered, and download progress reports."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import restorers
from restorers.models import hub
from restorers.models.registry import get_spec

from hubcache import add_file

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_hub_state():
    hub.forget_hub_failure()
    yield
    hub.forget_hub_failure()
    hub.set_default_download_progress(None)


def test_override_status_says_whether_the_file_will_load(hub_cache, tmp_path, monkeypatch):
    data = b"pinned weights" * 100
    weights = add_file(hub_cache, "someone/tiny", "tiny.pth", data)
    override = tmp_path / "override"
    override.mkdir()
    (override / "tiny.pth").write_bytes(data)
    monkeypatch.setenv("RESTORERS_WEIGHTS_DIR", str(override))
    assert hub.state(weights) == "override"

    # Same size, other bytes: the old report said "local override" and the load then failed.
    (override / "tiny.pth").write_bytes(b"X" * len(data))
    os.utime(override / "tiny.pth", ns=(1, 1))  # a new (size, mtime) key, as an edit would give
    status = hub.check(weights)
    assert status.state == "override-bad" and "sha256" in status.reason
    with pytest.raises(restorers.WeightsHashMismatchError):
        hub.fetch(weights)

    (override / "tiny.pth").write_bytes(data[:10])
    status = hub.check(weights)
    assert status.state == "override-bad" and "10 bytes" in status.reason


def test_status_checks_are_remembered_per_file_version(hub_cache, tmp_path, monkeypatch):
    data = b"abc" * 1000
    weights = add_file(hub_cache, "someone/tiny", "tiny.pth", data)
    override = tmp_path / "override"
    override.mkdir()
    (override / "tiny.pth").write_bytes(b"Z" * len(data))
    monkeypatch.setenv("RESTORERS_WEIGHTS_DIR", str(override))
    calls = []
    real = hub.sha256_of
    monkeypatch.setattr(hub, "sha256_of", lambda path, *a: calls.append(path) or real(path, *a))
    for _ in range(3):
        assert hub.state(weights) == "override-bad"
    assert len(calls) == 1  # the Models tab refreshes without re-hashing
    # A cached blob named after its pin is trusted for the status without hashing (fetch still hashes).
    monkeypatch.delenv("RESTORERS_WEIGHTS_DIR")
    assert hub.state(weights) == "cached" and len(calls) == 1


def test_weights_status_and_label_for_a_bad_override(hub_cache, tmp_path, monkeypatch):
    spec = get_spec("realesr-general-x4v3")
    monkeypatch.setenv("RESTORERS_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / spec.weights.basename).write_bytes(b"not the weights")
    assert restorers.weights_status(spec.name) == "override-bad"
    from webui.common import weights_label

    label = weights_label(spec)
    assert label.startswith("BAD local override") and "bytes" in label


UNREACHABLE = textwrap.dedent("""
    import json, sys, time
    from restorers.models import hub
    weights = hub.WeightsFile("someone/tiny", "tiny.pth", "0" * 64, 10)
    out = {}
    for attempt in ("first", "second"):
        start = time.perf_counter()
        try:
            hub.fetch(weights)
            out[attempt] = ["no error", 0]
        except hub.WeightsNotFoundError as exc:
            out[attempt] = [str(exc), time.perf_counter() - start]
    out["state"] = hub.check(weights).state
    print(json.dumps(out))
""")


def _run_unreachable(tmp_path, endpoint: str, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    environ.update(HF_ENDPOINT=endpoint, HF_HUB_CACHE=str(tmp_path / "empty-cache"), PYTHONPATH=str(REPO_ROOT),
                   **env)
    done = subprocess.run([sys.executable, "-c", UNREACHABLE], env=environ, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_unreachable_hub_fails_fast_and_is_remembered(tmp_path):
    # Port 9 (discard) is closed: connections are refused, as behind a firewall that rejects them.
    out = _run_unreachable(tmp_path, "http://127.0.0.1:9")
    first, first_s = out["first"]
    second, second_s = out["second"]
    assert "someone/tiny/tiny.pth" in first and "could not be reached" in first and "RESTORERS_WEIGHTS_DIR" in first
    assert "next attempt" in second
    assert first_s < 5.0, f"first failure took {first_s:.1f} s"
    assert second_s < 0.2, f"second failure took {second_s:.2f} s"
    assert out["state"] == "missing"


def test_a_hub_that_never_answers_is_bounded_by_the_probe_timeout(tmp_path):
    import socket

    # A socket that listens but never accepts: the TCP connect succeeds and the request hangs.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        out = _run_unreachable(tmp_path, f"http://127.0.0.1:{port}", RESTORERS_HUB_PROBE_TIMEOUT="0.5")
    assert out["first"][1] < 3.0 and out["second"][1] < 0.2
    assert "could not be reached" in out["second"][0]


def _fake_download(chunks: list[int], target: Path):
    def hf_hub_download(repo_id, filename, *, tqdm_class=None, **kwargs):
        total = sum(chunks)
        with tqdm_class(total=total, initial=0, desc=filename, unit="B", unit_scale=True) as bar:
            for n in chunks:
                bar.update(n)
        target.write_bytes(b"\0" * total)
        return str(target)

    return hf_hub_download


def test_fetch_reports_download_progress_with_sizes_and_speed(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(hub, "_probe_hub", lambda weights, timeout: None)
    chunks = [3_000_000, 4_000_000, 3_000_000]
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(chunks, tmp_path / "GPEN.pth"))
    weights = hub.WeightsFile("someone/gpen", "GPEN.pth", None, revision="0" * 40)
    reports: list[hub.DownloadProgress] = []
    assert hub.fetch(weights, progress=reports.append) == tmp_path / "GPEN.pth"
    assert [r.done for r in reports] == [3_000_000, 7_000_000, 10_000_000]
    assert all(r.total == 10_000_000 and r.filename == "GPEN.pth" for r in reports)
    assert reports[-1].fraction == 1.0 and reports[-1].bytes_per_second > 0
    assert reports[-1].describe().startswith("Downloading GPEN.pth: 10/10 MB, ")

    # The same reports reach a listener installed for a block of code, or for the whole process (the app).
    (tmp_path / "GPEN.pth").unlink()
    heard: list = []
    with hub.download_progress(heard.append):
        hub.fetch(weights)
    assert heard and heard[-1].done == 10_000_000
    (tmp_path / "GPEN.pth").unlink()
    hub.set_default_download_progress(heard.append)
    heard.clear()
    hub.fetch(weights)
    assert heard[-1].done == 10_000_000


def test_picker_says_a_bad_local_file_cannot_run(hub_cache, tmp_path, monkeypatch):
    from webui.common import model_state

    spec = get_spec("realesr-general-x4v3")
    monkeypatch.setenv("RESTORERS_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / spec.weights.basename).write_bytes(b"not the weights")
    assert model_state(spec) == ("weights file fails its check", False)


def test_a_reachable_hub_is_not_marked_unreachable(tmp_path):
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(404)  # as the Hub answers for a file a repo does not have
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Error-Message", "Entry not found")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = _run_unreachable(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    # The probe got an answer, so the download itself ran and reported the missing file, every time.
    assert "does not exist on the Hub" in out["first"][0] and "does not exist on the Hub" in out["second"][0]
    assert out["state"] == "downloadable"
