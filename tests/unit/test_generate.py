"""StyleGAN2-ADA faces and latent walks through the engine and the CLI, on the genuine small pickle."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import require_shared
from restorers.cli import commands as cli
from restorers.analysis.generate import generate_faces, latent_walk, load_generator, parse_seeds


@pytest.fixture(scope="module")
def pickle_path():
    return require_shared("golden", "stylegan2_ada", "case_ada_small.pkl")


@pytest.fixture(scope="module")
def generator(pickle_path):
    return load_generator(pickle_path, device="cpu")


def test_parse_seeds():
    assert parse_seeds("1,2,3") == [1, 2, 3]
    assert parse_seeds(" 7, 10-12 ") == [7, 10, 11, 12]
    for bad in ["", "a", "1,,x", "-3"]:
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_faces_match_nvidia_generate_script(generator):
    """seed -> z = RandomState(seed).randn(1, z_dim); img = G(z, psi=0.7, noise_mode='const') * 127.5 + 128."""
    faces = generate_faces(generator, [5, 9], psi=0.7, precision="fp32")
    for seed, face in zip([5, 9], faces):
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, generator.z_dim)).float()
        with torch.inference_mode():
            img = generator(z, None, truncation_psi=0.7, noise_mode="const")
        expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
        assert np.abs(face.astype(int) - expected.astype(int)).max() <= 1


def test_walk_hits_keyframes_and_counts_frames(generator):
    faces = generate_faces(generator, [1, 2, 3], precision="fp32")
    walk = latent_walk(generator, [1, 2, 3], 4, "w-linear", 0.7, loop=False, precision="fp32")
    assert len(walk.frames) == 11
    assert np.array_equal(walk.frames[0], faces[0]) and np.array_equal(walk.frames[-1], faces[2])
    looped = latent_walk(generator, [1, 2, 3], 4, "w-cubic", 0.7, loop=True, precision="fp32")
    assert len(looped.frames) == 15
    for index, face in zip([0, 5, 10], faces):
        assert np.abs(looped.frames[index].astype(int) - face.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="limit"):
        latent_walk(generator, list(range(10)), 200, "w-cubic")


def test_cli_interpolate_writes_gif_with_frames_fps_and_loop(tmp_path, pickle_path):
    gif = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--seeds", "1,2", "--frames", "3", "--space", "z", "--method", "slerp",
                     "--fps", "10", "--no-loop", "--pickle", str(pickle_path), "--out", str(gif)]) == 0
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.info["duration"] == 100 and "loop" not in img.info
    mp4 = tmp_path / "walk.mp4"
    assert cli.main(["interpolate", "--seeds", "1-3", "--frames", "2", "--pickle", str(pickle_path),
                     "--size", "64", "--out", str(mp4)]) == 0
    import imageio.v3 as iio

    frames = iio.imread(mp4)
    assert frames.shape == (9, 64, 64, 3)
