"""The DCGAN tab's endpoints, called as a user would with gradio_client: train a tiny DCGAN on the bundled
example crops, sample and walk the checkpoint it gives back, and the clear errors for bad data and files."""
from __future__ import annotations

import zipfile

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from conftest import require_shared

# source, files, hub dataset, size, epochs, batch, lr G, lr D, beta1, beta2, latent, seed, stabilise, features, precision
TINY = [32, 1, 16, 0.005, 0.005, 0.5, 0.999, 8, 0, False, 8, "fp32"]


@pytest.fixture(scope="module")
def trained(client):
    return client.predict("example", None, "flowers-102", *TINY, api_name="/dcgan_train")


def test_study_batch_on_the_bundled_crops_is_cut_and_the_status_says_so(client):
    # The study's batch 256 on the 32 bundled crops: one iteration per epoch without the cut.
    settings = [32, 1, 256] + TINY[3:]
    status = client.predict("example", None, "flowers-102", *settings, api_name="/dcgan_train")[0]
    assert "batch 256 is larger than the 32 images: using 8" in status
    assert "4 iteration(s) per epoch" in status and "done after 4 iterations" in status


def test_source_picks_the_demo_or_the_study_defaults(client):
    from webui.dcgan_tab import source_defaults

    # The page opens on the bundled crops, so its sliders start at the demo's batch and epochs.
    start = {c["props"].get("elem_id"): c["props"].get("value") for c in client.config["components"]}
    assert start["dcgan-source"] == "example" and start["dcgan-batch"] == 8 and start["dcgan-epochs"] == 50

    values = lambda source: [u["value"] for u in source_defaults(source)]  # noqa: E731
    assert values("example") == [50, 8, 0.001, 0.001]
    assert values("hub") == values("upload") == [20, 256, 0.005, 0.005]


def test_train_endpoint_returns_curves_samples_and_files(trained):
    status, note, chart, samples, gif, checkpoint, files = trained
    assert "32 images of 32x32" in status and "done after 2 iterations" in status
    assert chart["columns"] == ["iteration", "loss", "series"]
    assert {row[2] for row in chart["data"]} == {"D", "G", "D (smoothed)", "G (smoothed)"}
    assert sorted({row[0] for row in chart["data"]}) == [1, 2]
    with Image.open(samples) as grid:
        assert grid.width > 400  # 64 samples of 32 px shown at 64 px each
    with Image.open(gif) as animation:
        assert animation.n_frames == 1  # one epoch
    assert checkpoint.endswith("dcgan.pt")
    assert sorted(p.rsplit("/", 1)[-1] for p in files) == ["dcgan.pt", "losses.csv", "losses.png", "samples_by_epoch.gif"]


def test_sample_and_walk_the_trained_checkpoint(client, trained):
    checkpoint = trained[5]
    grid, status = client.predict(handle_file(checkpoint), "0-3", api_name="/dcgan_sample")
    assert "4 samples of 32x32, latent size 8" in status
    mp4, gif, download = client.predict(handle_file(checkpoint), "1,2", 3, "z-slerp", True, 12, 64,
                                        api_name="/dcgan_interpolate")
    with Image.open(gif) as animation:
        assert animation.n_frames == 8 and animation.size == (64, 64)
    assert mp4.endswith(".mp4") if isinstance(mp4, str) else mp4["video"].endswith(".mp4")


def test_real_tutorial_checkpoint_samples(client):
    fixture = require_shared("weights", "fixtures", "dcgan-digiface1m-64.pth")
    grid, status = client.predict(handle_file(str(fixture)), "0-3", api_name="/dcgan_sample")
    assert "64x64, latent size 100 (tutorial (netG_state_dict) checkpoint)" in status


def test_bad_data_and_checkpoints_are_clear_errors(client, tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "no images")
    with pytest.raises(AppError, match="no usable images in notes.zip"):
        client.predict("upload", [handle_file(str(archive))], "flowers-102", *TINY, api_name="/dcgan_train")
    with pytest.raises(AppError, match="Upload training images"):
        client.predict("upload", None, "flowers-102", *TINY, api_name="/dcgan_train")
    with pytest.raises(AppError, match="flowers-102.*not available"):
        client.predict("hub", None, "flowers-102", *TINY, api_name="/dcgan_train")
    bad = tmp_path / "model.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(AppError, match="model.pt is not a readable PyTorch checkpoint"):
        client.predict(handle_file(str(bad)), "0-3", api_name="/dcgan_sample")
    with pytest.raises(AppError, match="Train a model first"):
        client.predict(None, "0-3", api_name="/dcgan_sample")


def test_too_long_a_training_is_refused_before_it_starts(client):
    big = [32, 200] + TINY[2:]  # 200 epochs of flowers-102's train split
    with pytest.raises(AppError, match=r"DCGAN training would take about .*\(training 7169 images for 200 epochs"):
        client.predict("hub", None, "flowers-102-train", *big, api_name="/dcgan_train")
