"""A first-use weights download shows its progress (size, speed) in the running request's progress bar."""
from __future__ import annotations

import time

import huggingface_hub

from conftest import require_shared
from restorers.models import hub


def test_download_progress_reaches_the_page(client, tmp_path, monkeypatch):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    # An online run with an empty cache, with the download itself faked: 5 chunks of 1 MB, 0.4 s apart.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub, "_probe_hub", lambda weights, timeout: None)
    monkeypatch.setattr(hub, "PROGRESS_INTERVAL", 0.0)

    def fake_download(repo_id, filename, *, tqdm_class=None, **kwargs):
        with tqdm_class(total=5_000_000, initial=0, desc=filename, unit="B") as bar:
            for _ in range(5):
                time.sleep(0.4)
                bar.update(1_000_000)
        target = tmp_path / filename.rsplit("/", 1)[-1]
        target.write_bytes(b"\0" * 5_000_000)  # not the pinned file: the load then fails its size check
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    from gradio_client import handle_file

    job = client.submit(handle_file(str(photo)), ["lanczos", "realesr-general-x4v3"], 1.0, "whole", "lanczos",
                        False, 0, 0.9, 1.0, api_name="/restore")
    seen: list[str] = []
    while not job.done():
        status = job.status()
        for unit in status.progress_data or []:
            if unit.desc and unit.desc.startswith("Downloading") and unit.desc not in seen:
                seen.append(unit.desc)
        time.sleep(0.05)
    gallery, *_, status_text, files = job.result()
    assert len(gallery) == 1  # Lanczos ran; the fake file was refused
    assert seen, "no download progress reached the client"
    assert all(d.startswith("Downloading realesr-general-x4v3.pth: ") and "/5 MB, " in d and d.endswith("MB/s")
               for d in seen), seen
    assert "realesr-general-x4v3" in status_text
