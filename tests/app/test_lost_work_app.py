"""Nothing lost in the app (issue 22, items 11 and 14): one bad zip member does not end an evaluation, a
failed request gives its memory back, a visitor's mistake is one log line with no server path and no
torch advice, gradio's empty leftovers are swept, and API values are typed as the server accepts them.
Every payload is generated here."""
from __future__ import annotations

import io
import math
import os
import socket
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
IDLE_GROWTH_MB = 50  # RSS an idle server may keep after the failing requests below, over its warm state


def _png_bytes(colour: tuple[int, int, int], side: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _encrypted_member_zip(path: Path) -> Path:
    """A zip of three PNGs whose middle one is flagged encrypted (bit 0 of its general-purpose flags)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, colour in (("a.png", (200, 20, 20)), ("b_secret.png", (20, 200, 20)), ("c.png", (20, 20, 200))):
            archive.writestr(name, _png_bytes(colour))
    data = bytearray(buffer.getvalue())
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        where = data.find(signature)
        while where >= 0:
            if data[where + name_at : where + name_at + 12] == b"b_secret.png":
                struct.pack_into("<H", data, where + flags_at, struct.unpack_from("<H", data, where + flags_at)[0] | 1)
            where = data.find(signature, where + 4)
    path.write_bytes(bytes(data))
    return path


def _long_name_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", _png_bytes((200, 20, 20)))
        archive.writestr("x" * 60_000 + ".png", _png_bytes((20, 200, 20)))
        archive.writestr("c.png", _png_bytes((20, 20, 200)))
    return path


@pytest.mark.parametrize("builder", [_encrypted_member_zip, _long_name_zip], ids=["encrypted member", "60k-char name"])
@pytest.mark.filterwarnings("ignore::UserWarning")  # gr.Warning outside a request is a Python warning
def test_evaluate_skips_one_bad_zip_member_and_scores_the_rest(builder, tmp_path: Path) -> None:
    from webui import measure_tab

    upload = builder(tmp_path / "batch.zip")
    table, chart, per_image, gallery, csv_path, note = measure_tab.run_evaluation(
        [str(upload)], "downscale:2", 0, ["bicubic"], ["psnr"])
    assert sorted(set(per_image["image"])) == ["a.png", "c.png"]
    assert len(gallery) == 4 and Path(csv_path).is_file()
    assert "2 image(s)" in note and "1 file(s) skipped" in note
    assert ("encrypted (password-protected)" if builder is _encrypted_member_zip else "60004 characters long") in note
    assert len(note) < 3000 and str(tmp_path) not in note


def test_dcgan_nan_epochs_names_the_parameter() -> None:
    import gradio as gr

    from webui import dcgan_tab

    defaults = {"source": "example", "files": None, "hub_name": "flowers-102", "size": 32, "epochs": 2,
                "batch_size": 8, "lr_g": 0.001, "lr_d": 0.001, "beta1": 0.5, "beta2": 0.999, "latent": 100}
    for name, change in (("epochs", {"epochs": math.nan}), ("batch size", {"batch_size": math.inf}),
                         ("latent size", {"latent": "many"})):
        with pytest.raises(gr.Error) as refused:  # every argument in order, as the API sends them
            next(dcgan_tab.run_dcgan_train(*{**defaults, **change}.values()))
        assert str(refused.value.message).startswith(f"{name} must be"), refused.value.message
        assert "convert" not in str(refused.value.message)


def test_interpolate_api_lists_size_as_an_integer(client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    size = next(p for p in api["named_endpoints"]["/interpolate"]["parameters"] if p["parameter_name"] == "size")
    assert size["type"]["type"] == "integer" and size["python_type"]["type"] == "int"


def test_user_error_messages_lose_server_paths_and_length() -> None:
    from webui import jobs
    from webui.tmpdirs import GRADIO_DIR

    upload = GRADIO_DIR / "3f2a9c" / "x.PKL"
    error = jobs._translate(ValueError(f"{upload}: not a StyleGAN2-ADA network pickle " + "k" * 20_000))
    message = str(error.message)
    assert message.startswith("x.PKL: not a StyleGAN2-ADA network pickle") and len(message) <= jobs.MAX_MESSAGE_CHARS
    assert error.print_exception is False  # gradio prints no traceback for it
    bug = jobs._translate(KeyError("oops"))
    assert str(bug.message).startswith("Something went wrong on the server (KeyError)")


def test_gradio_own_user_errors_print_no_traceback() -> None:
    import gradio as gr

    from webui import jobs

    jobs.quiet_user_errors()
    jobs.quiet_user_errors()  # idempotent
    assert gr.Error("Value: 'x' is not in the list of choices").print_exception is False
    assert gr.Error("loud", print_exception=True).print_exception is True


def test_empty_gradio_leftovers_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from webui import tmpdirs

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    old, fresh, kept = tmp_path / "tmpab12cd34", tmp_path / "tmpfresh000", tmp_path / "tmpdata0000"
    for path in (old, fresh):
        path.write_bytes(b"")
    kept.write_bytes(b"an upload on its way")
    (tmp_path / "3f2a").mkdir()
    long_ago = time.time() - 2 * tmpdirs.EMPTY_TMP_MIN_AGE_S
    for path in (old, kept, tmp_path / "3f2a"):
        os.utime(path, (long_ago, long_ago))
    assert tmpdirs.sweep_empty_gradio_files() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3f2a", "tmpdata0000", "tmpfresh000"]


# --- a real server: RSS after failing requests, and what its log says ------------------------------------

def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _settled_rss_mb(pid: int, seconds: float = 20.0) -> float:
    """The server's RSS once it stops falling (the clean-up after a failure runs in the background)."""
    deadline, last = time.monotonic() + seconds, _rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = _rss_mb(pid)
        if now >= last - 1:
            return now
        last = now
    return last


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc")
def test_idle_memory_stays_flat_after_failing_requests(tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    from restorers.models.archs.rrdbnet import RRDBNet

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, RESTORERS_TMP=str(tmp_path / "tmp"), PYTHONPATH=str(REPO_ROOT))
    env.pop("GRADIO_TEMP_DIR", None)
    launch = (f"import app; app.demo.launch(**app.launch_options(), server_name='127.0.0.1', server_port={port}, "
              "quiet=True)")
    log_path = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-c", launch], cwd=REPO_ROOT, env=env,
                              stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    try:
        client = None
        for _ in range(180):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                assert server.poll() is None, log_path.read_text()[-2000:]
                time.sleep(1)
        assert client is not None, "the server did not start"
        photo = tmp_path / "photo.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(photo)
        bigs = []  # eight 2500x2500 photos: decoded (19 MB each), then the degradation spec is refused
        for i in range(8):
            bigs.append(tmp_path / f"big{i}.png")
            Image.new("RGB", (2500, 2500), (30 * i, 60, 90)).save(bigs[-1])
        torch.manual_seed(0)
        state = RRDBNet(3, 3, scale=4, num_feat=32, num_block=4, num_grow_ch=16).state_dict()
        state["conv_hr.weight"][0, 0, 0, 0] = float("nan")
        torch.save(state, tmp_path / "nan.pth")
        (tmp_path / "junk.pth").write_bytes(bytes(np.random.default_rng(2).integers(0, 256, 1 << 20, dtype=np.uint8)))
        face = ["whole", "lanczos", False, 0, 0.97, 1.0, "0.5"]

        def fails(*args, **kwargs) -> str:
            with pytest.raises(Exception) as refused:  # noqa: PT011 - gradio_client's AppError
                client.predict(*args, **kwargs)
            return str(refused.value)

        client.predict(handle_file(str(photo)), ["lanczos"], 1.0, *face, None, api_name="/restore")  # warm
        warm = _settled_rss_mb(server.pid)
        messages = []
        for _ in range(4):
            messages.append(fails([handle_file(str(p)) for p in bigs], "nonsense:3", 0, ["bicubic"], ["psnr"],
                                  api_name="/evaluate"))
            messages.append(fails(handle_file(str(photo)), [], 1.0, *face, handle_file(str(tmp_path / "nan.pth")),
                                  api_name="/restore"))
            messages.append(fails(handle_file(str(photo)), [], 1.0, *face, handle_file(str(tmp_path / "junk.pth")),
                                  api_name="/restore"))
            messages.append(fails(handle_file(str(photo)), ["no-such-model"], 1.0, *face, None, api_name="/restore"))
        idle = _settled_rss_mb(server.pid)
        assert idle - warm < IDLE_GROWTH_MB, f"warm {warm:.0f} MB, idle after 16 failures {idle:.0f} MB"
        assert any("NaN or infinite" in m for m in messages) and any("not a readable" in m for m in messages)
        for message in messages:
            assert "weights_only" not in message and str(tmp_path) not in message and "/tmp/" not in message
    finally:
        server.terminate()
        server.wait(30)
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("not done:") >= 12 and "request refused by gradio" in log
