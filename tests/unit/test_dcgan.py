"""The DCGAN lab's engine: training events, data loading (files, zips, a Hub dataset), checkpoints,
samples, latent walks and the CLI. Tiny networks and tiny generated datasets keep it fast."""
from __future__ import annotations

import io
import math
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from restorers.dcgan import training as dcgan_train
from conftest import require_shared
from hubcache import add_file
from restorers.analysis.animate import path_length
from restorers.cli.commands import main as cli_main
from restorers.dcgan.model import (CheckpointError, generate, latent_walk, load_checkpoint, loss_chart, losses_csv,
                             save_checkpoint)
from restorers.dcgan.config import EXAMPLE_DEFAULTS, STUDY_DEFAULTS, fit_batch
from restorers.dcgan.data import HUB_DATASETS, DatasetError, example_dataset, load_hub_dataset, load_images, square
from restorers.dcgan.training import CollapseDetector, Done, EpochEnd, Iteration, Note, Started, TrainConfig, train
from restorers.guards.limits import LimitError

TINY = dict(nz=8, ngf=8, ndf=8, batch_size=4, samples=4)


def tiny_images(count: int = 12, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random colour blobs: enough structure for a GAN to start on, generated, no files."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(count):
        cy, cx, r = rng.uniform(0.3, 0.7, 3)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < (r / 2) ** 2)[..., None]
        out.append(np.where(mask, rng.integers(0, 256, 3), rng.integers(0, 256, 3)).astype(np.uint8))
    return np.stack(out)


def run(config: TrainConfig, images: np.ndarray | None = None, stop=None) -> list:
    return list(train(tiny_images() if images is None else images, config, stop=stop))


def png_bytes(colour=(200, 30, 30), size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# Training


def test_training_events_losses_and_samples():
    events = run(TrainConfig(epochs=2, seed=3, **TINY))
    assert isinstance(events[0], Started) and isinstance(events[-1], Done)
    started, done = events[0], events[-1]
    assert started.images == 12 and started.iterations_per_epoch == 3 and started.total_iterations == 6
    iterations = [e for e in events if isinstance(e, Iteration)]
    assert [e.iteration for e in iterations] == [1, 2, 3, 4, 5, 6]
    assert [e.epoch for e in iterations] == [1, 1, 1, 2, 2, 2]
    for e in iterations:
        assert math.isfinite(e.loss_d) and math.isfinite(e.loss_g) and e.loss_d > 0 and e.loss_g > 0
        assert 0 <= e.d_real <= 1 and 0 <= e.d_fake <= 1 and e.seconds_left >= 0 and e.images_per_second > 0
    assert iterations[-1].seconds_left == 0
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[0].samples.shape == (4, 32, 32, 3) and epochs[0].samples.dtype == np.uint8
    assert epochs[0].grid.ndim == 3 and epochs[0].grid.shape[0] > 64
    assert not np.array_equal(epochs[0].samples, epochs[1].samples)  # the generator learned something
    assert [r["loss_d"] for r in done.rows] == [e.loss_d for e in iterations]
    assert not done.stopped and done.model.image_size == 32
    # The smoothed loss is an exponential moving average of the raw one.
    a = dcgan_train.SMOOTHING
    assert iterations[1].loss_d_smooth == pytest.approx((1 - a) * iterations[0].loss_d + a * iterations[1].loss_d)


def test_same_seed_same_losses_other_seed_other_losses():
    losses = [[(e.loss_d, e.loss_g) for e in run(TrainConfig(epochs=1, seed=s, **TINY)) if isinstance(e, Iteration)]
              for s in (5, 5, 6)]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_channels_last_trains_like_fp32():
    plain = [e.loss_d for e in run(TrainConfig(epochs=1, seed=2, **TINY)) if isinstance(e, Iteration)]
    cl = [e.loss_d for e in run(TrainConfig(epochs=1, seed=2, precision="channels_last", **TINY))
          if isinstance(e, Iteration)]
    assert cl == pytest.approx(plain, abs=1e-3)  # same maths, another memory layout


def test_fused_adam_trains_like_the_plain_loop(monkeypatch):
    # Fused Adam (the default) is the same update rule in one kernel: the losses agree to float rounding.
    assert dcgan_train.fused_adam_enabled(torch.device("cpu"))
    fused = [(e.loss_d, e.loss_g) for e in run(TrainConfig(epochs=2, seed=4, **TINY)) if isinstance(e, Iteration)]
    monkeypatch.setenv(dcgan_train.FUSED_ADAM_ENV, "0")
    assert not dcgan_train.fused_adam_enabled(torch.device("cpu"))
    plain = [(e.loss_d, e.loss_g) for e in run(TrainConfig(epochs=2, seed=4, **TINY)) if isinstance(e, Iteration)]
    assert len(fused) == len(plain) == 6 and fused != plain  # a different kernel, so not bit-identical
    # The first updates agree to rounding; a GAN at lr 0.005 then amplifies it (~3% after 6 steps).
    assert np.allclose(fused[:2], plain[:2], rtol=1e-5)
    assert np.allclose(fused, plain, rtol=0.1)


def test_64px_and_stabilise_and_bf16_run():
    events = run(TrainConfig(image_size=64, epochs=1, stabilise=True, precision="bf16", **TINY),
                 tiny_images(8, 64))
    done = events[-1]
    assert isinstance(done, Done) and len(done.rows) == 2
    assert all(math.isfinite(r["loss_d"]) for r in done.rows)
    assert [e for e in events if isinstance(e, EpochEnd)][0].samples.shape == (4, 64, 64, 3)


def test_stop_flag_ends_with_the_model_so_far():
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    events = run(TrainConfig(epochs=3, **TINY), stop=stop)
    done = events[-1]
    assert isinstance(done, Done) and done.stopped and len(done.rows) == 2
    assert isinstance(events[-2], EpochEnd)  # the partial epoch still gets its samples


def test_collapse_detector():
    detector = CollapseDetector(real_label=1.0)
    assert not any(detector.update(0.01, 5.0) for _ in range(dcgan_train.COLLAPSE_PATIENCE - 1))
    assert detector.update(0.01, 5.0)  # the tenth collapsed iteration in a row
    assert not detector.update(0.01, 5.0)  # said once
    smoothed = CollapseDetector(real_label=0.9)  # the soft label's floor: D's loss cannot reach 0
    assert smoothed.floor == pytest.approx(0.1625, abs=1e-3)
    assert not any(smoothed.update(0.3, 5.0) for _ in range(20))
    assert any(smoothed.update(0.17, 5.0) for _ in range(20))
    healthy = CollapseDetector(real_label=1.0)
    assert not any(healthy.update(0.01, 1.0) for _ in range(50))  # G loss not rising: no collapse


def test_collapse_note_is_an_event(monkeypatch):
    monkeypatch.setattr(dcgan_train, "COLLAPSE_D", 100.0)
    monkeypatch.setattr(dcgan_train, "COLLAPSE_G", -1.0)
    monkeypatch.setattr(dcgan_train, "COLLAPSE_PATIENCE", 2)
    events = run(TrainConfig(epochs=1, **TINY))
    notes = [e for e in events if isinstance(e, Note)]
    assert len(notes) == 1 and notes[0].iteration == 2 and notes[0].kind == "collapse"
    assert "discriminator wins" in notes[0].text and "gradients" in notes[0].text
    assert events[-1].notes == [notes[0].text]


@pytest.mark.parametrize("bad, message", [
    (dict(image_size=48), "32 or 64"), (dict(epochs=0), "epochs"), (dict(lr_d=0.0), "learning rate D"),
    (dict(beta1=1.0), "beta1"), (dict(precision="fp16"), "precision"),
])
def test_bad_settings_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        run(TrainConfig(**{**TINY, **bad}))


def test_wrong_size_or_too_few_images():
    with pytest.raises(DatasetError, match="load them at that size"):
        run(TrainConfig(**TINY), tiny_images(4, 64))
    with pytest.raises(DatasetError, match="at least 2"):
        run(TrainConfig(**TINY), tiny_images(1))


# ---------------------------------------------------------------------------------------------------
# Data


def test_square_centre_crops_then_resizes():
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, 20:40] = 255  # the centre square is white, the sides black
    out = square(wide, 32)
    assert out.shape == (32, 32, 3) and out.min() >= 250


def test_zip_with_non_images_skips_them_with_a_note(tmp_path):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", png_bytes())
        z.writestr("sub/b.png", png_bytes((10, 200, 10)))
        z.writestr("readme.txt", "not an image")
        z.writestr("broken.png", b"\x89PNG\r\n\x1a\nbroken")
        z.writestr("__MACOSX/._a.png", b"resource fork")
    loose = tmp_path / "c.png"
    loose.write_bytes(png_bytes((10, 10, 200)))
    data = load_images([archive, loose], 32)
    assert len(data) == 3 and data.images.shape == (3, 32, 32, 3)
    assert tuple(data.images[2, 16, 16]) == (10, 10, 200)
    assert len(data.notes) == 1
    assert "skipped 2" in data.notes[0] and "readme.txt" in data.notes[0] and "broken.png" in data.notes[0]
    assert "__MACOSX" not in data.notes[0]


def test_zip_limits_are_checked_before_reading(tmp_path, monkeypatch):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i in range(5):
            z.writestr(f"{i}.png", png_bytes())
        z.writestr("big.bin", b"\0" * 3_000_000)  # compresses to a few KB
    monkeypatch.setenv("RESTORERS_DCGAN_ZIP_MEMBERS", "4")
    with pytest.raises(LimitError, match="lists 6 entries; at most 4 are read.*RESTORERS_DCGAN_ZIP_MEMBERS"):
        load_images([archive], 32)
    monkeypatch.setenv("RESTORERS_DCGAN_ZIP_MEMBERS", "100")
    monkeypatch.setenv("RESTORERS_DCGAN_ZIP_TOTAL_MB", "1")
    with pytest.raises(LimitError, match="unpacks to 3 MB; the limit is 1 MB"):
        load_images([archive], 32)


def test_empty_dataset_is_a_clear_error(tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "no images here")
    with pytest.raises(DatasetError, match="no usable images in notes.zip"):
        load_images([archive], 32)
    with pytest.raises(DatasetError, match="no training images given"):
        load_images([], 32)
    bad = tmp_path / "fake.zip"
    bad.write_bytes(b"PK not really")
    with pytest.raises(DatasetError, match="not a valid zip"):
        load_images([bad], 32)


def _parquet_bytes(pngs: list[bytes]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = pa.array([{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(pngs)],
                     type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"image": image, "label": pa.array(range(len(pngs)))}), buffer)
    return buffer.getvalue()


def test_hub_dataset_through_the_real_download_path(hub_cache):
    spec = HUB_DATASETS["flowers-102"]
    assert len(spec.file.revision) == 40 and spec.file.repo_type == "dataset"  # pinned by commit
    add_file(hub_cache, spec.file.repo_id, spec.file.filename,
             _parquet_bytes([png_bytes(), png_bytes((0, 0, 255), (64, 64)), b"not an image"]),
             repo_type="dataset", revision=spec.file.revision)
    data = load_hub_dataset("flowers-102", 32)
    assert data.images.shape == (2, 32, 32, 3) and tuple(data.images[1, 5, 5]) == (0, 0, 255)
    assert "row 3" in data.notes[0]


def test_hub_dataset_offline_miss_and_unknown_name(hub_cache):
    with pytest.raises(DatasetError, match="nelorth/oxford-flowers.*HF_HUB_OFFLINE"):
        load_hub_dataset("flowers-102", 32)
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        load_hub_dataset("nope", 32)


# ---------------------------------------------------------------------------------------------------
# Checkpoints, samples, walks


@pytest.fixture(scope="module")
def trained():
    return run(TrainConfig(epochs=1, **TINY))[-1].model


def test_checkpoint_round_trip_in_every_layout(trained, tmp_path):
    seeds = [1, 2, 3]
    expected = generate(trained, seeds)
    ours = save_checkpoint(tmp_path / "ours.pt", trained)
    loaded = load_checkpoint(ours)
    assert loaded.source == "restorers-dcgan" and loaded.discriminator is not None
    assert loaded.config["train"]["batch_size"] == 4 and len(loaded.history["loss_d"]) == 3
    np.testing.assert_array_equal(generate(loaded, seeds), expected)
    state = trained.generator.state_dict()
    for name, payload in [("wrapped.pth", {"netG_state_dict": state}), ("bare.pth", state),
                          ("parallel.pth", {f"module.{k}": v for k, v in state.items()})]:
        torch.save(payload, tmp_path / name)
        np.testing.assert_array_equal(generate(load_checkpoint(tmp_path / name), seeds), expected)


def test_wrong_checkpoints_are_clear_errors(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"params": {"body.0.weight": torch.zeros(8, 3, 3, 3)}}, other)
    with pytest.raises(CheckpointError, match="other.pth is not a DCGAN checkpoint"):
        load_checkpoint(other)
    torch.save({"body.0.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(CheckpointError, match="other.pth: not a DCGAN generator"):
        load_checkpoint(other)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt is not a readable PyTorch checkpoint") as info:
        load_checkpoint(text)
    assert str(tmp_path) not in str(info.value)  # no temp paths in messages
    shapes = tmp_path / "shapes.pth"
    state = {k: v for k, v in run(TrainConfig(epochs=1, **TINY))[-1].model.generator.state_dict().items()}
    state["main.1.weight"] = torch.zeros(3)
    torch.save(state, shapes)
    with pytest.raises(CheckpointError, match="does not match a DCGAN generator"):
        load_checkpoint(shapes)


def test_walk_uses_the_stylegan_walk_rules(trained):
    walk = latent_walk(trained, [1, 2, 3], frames_between=4, interpolation="z-slerp", loop=True, size=None)
    assert len(walk.frames) == path_length(3, 4, True) == 15
    assert walk.frames[0].shape == (32, 32, 3)
    keys = generate(trained, [1, 2, 3])
    for got, want in zip(walk.keyframes, keys):
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert latent_walk(trained, "1,2", 2, "z-linear", loop=False, size=64).frames[0].shape == (64, 64, 3)
    with pytest.raises(ValueError, match="only a z space"):
        latent_walk(trained, [1, 2], 2, "w-cubic")


def test_real_generator_samples_faces_through_the_loader():
    model = load_checkpoint(require_shared("weights", "fixtures", "dcgan-digiface1m-64.pth"))
    assert model.source == "tutorial (netG_state_dict)" and model.image_size == 64 and model.nz == 100
    faces = generate(model, [0, 1])
    assert faces.shape == (2, 64, 64, 3) and faces.std() > 20


def test_loss_csv_and_chart():
    rows = run(TrainConfig(epochs=1, **TINY))[-1].rows
    text = losses_csv(rows)
    assert text.splitlines()[0] == "iteration,epoch,loss_d,loss_g,loss_d_smooth,loss_g_smooth,d_real,d_fake"
    assert len(text.splitlines()) == 4
    chart = loss_chart(rows)
    assert chart.shape == (360, 800, 3) and (chart != 255).any()


# ---------------------------------------------------------------------------------------------------
# Command line


def test_cli_train_sample_interpolate(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    for i, image in enumerate(tiny_images(8)):
        Image.fromarray(image).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("skipped: not an image suffix")
    run_dir = tmp_path / "run"
    assert cli_main(["dcgan", "train", str(folder), "--size", "32", "--epochs", "2", "--batch-size", "4",
                     "--latent", "8", "--features", "8", "--out", str(run_dir)]) == 0
    for name in ("dcgan.pt", "losses.csv", "losses.png", "samples.gif", "samples_final.png"):
        assert (run_dir / name).is_file(), name
    with Image.open(run_dir / "samples.gif") as gif:
        assert gif.n_frames == 2
    assert len((run_dir / "losses.csv").read_text().splitlines()) == 5
    assert cli_main(["dcgan", "sample", str(run_dir / "dcgan.pt"), "--seeds", "0-3", "--out",
                     str(tmp_path / "s.png")]) == 0
    assert cli_main(["dcgan", "interpolate", str(run_dir / "dcgan.pt"), "--seeds", "1,2", "--frames", "3",
                     "--size", "64", "--out", str(tmp_path / "walk.gif")]) == 0
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (64, 64)
    out = capsys.readouterr().out
    assert "8 images of 32x32" in out and "done in" in out


def test_cli_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["dcgan", "train", str(empty), "--out", str(tmp_path / "r")]) == 2
    assert "no usable images" in capsys.readouterr().err
    text = tmp_path / "x.pt"
    text.write_text("nope")
    assert cli_main(["dcgan", "sample", str(text)]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# A batch larger than the data (the study's 256 on the 32 bundled crops) is cut, and the demo's defaults


def test_fit_batch_cuts_a_batch_larger_than_the_data():
    assert fit_batch(32, 256) == (8, "batch 256 is larger than the 32 images: using 8")
    assert fit_batch(100, 256)[0] == 16 and fit_batch(5, 256)[0] == 2 and fit_batch(2, 256)[0] == 2
    assert fit_batch(1020, 256) == (256, "")  # flowers-102 keeps the study's batch
    assert fit_batch(12, 4) == (4, "") and fit_batch(32, 32) == (32, "")


def test_study_batch_on_the_bundled_crops_gives_several_iterations_per_epoch():
    config = replace(STUDY_DEFAULTS, epochs=1, nz=8, ngf=8, ndf=8, samples=4)
    events = run(config, example_dataset(32).images)
    started, done = events[0], events[-1]
    assert started.images == 32 and started.iterations_per_epoch == 4 and started.total_iterations == 4
    assert started.config.batch_size == 8 and started.batch_note == "batch 256 is larger than the 32 images: using 8"
    assert sum(isinstance(e, Iteration) for e in events) == 4
    assert done.model.config["train"]["batch_size"] == 8  # the checkpoint records the batch it trained with


def test_example_defaults_differ_from_the_study_only_in_batch_epochs_and_lr():
    assert (STUDY_DEFAULTS.batch_size, STUDY_DEFAULTS.epochs, STUDY_DEFAULTS.lr_g) == (256, 20, 0.005)
    assert (EXAMPLE_DEFAULTS.batch_size, EXAMPLE_DEFAULTS.epochs, EXAMPLE_DEFAULTS.lr_g, EXAMPLE_DEFAULTS.lr_d) == \
        (8, 50, 0.001, 0.001)
    assert replace(EXAMPLE_DEFAULTS, batch_size=256, epochs=20, lr_g=0.005, lr_d=0.005) == STUDY_DEFAULTS
