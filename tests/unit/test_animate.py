"""Tests for restorers.analysis.animate: latent paths, the latent walk on a tiny fake generator, the
GIF / MP4 writers of restorers.media (read back with Pillow / imageio), sheets, and the repeated-run loop."""
from __future__ import annotations

import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from restorers.analysis import animate
from restorers.media import video_io as media


# --- a tiny generator with the official StyleGAN2-ADA interface ------------------------------

class _FakeMapping(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_ws: int) -> None:
        super().__init__()
        self.num_ws = num_ws
        self.fc = nn.Linear(z_dim, w_dim)
        self.register_buffer("w_avg", torch.randn(w_dim) * 0.1)

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        assert z.dtype == torch.float32 and c.shape == (z.shape[0], 0)
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()  # normalize_2nd_moment
        w = F.leaky_relu(self.fc(x), 0.2)
        w = self.w_avg.lerp(w, truncation_psi)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)


class _FakeSynthesis(nn.Module):
    def __init__(self, w_dim: int, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.fc = nn.Linear(w_dim, 8 * 4 * 4)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 3, 3, padding=1)
        self.noise_modes: list[str] = []

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        self.noise_modes.append(noise_mode)
        x = self.fc(ws.mean(dim=1)).reshape(-1, 8, 4, 4)
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv1(x), 0.2)
        return torch.tanh(self.conv2(x))


class FakeG(nn.Module):
    def __init__(self, z_dim: int = 16, w_dim: int = 12, num_ws: int = 4, resolution: int = 16) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.img_resolution = z_dim, 0, w_dim, num_ws, resolution
        self.mapping = _FakeMapping(z_dim, w_dim, num_ws)
        self.synthesis = _FakeSynthesis(w_dim, resolution)
        self.eval()


def _generate_py_image(G: FakeG, seed: int, psi: float) -> np.ndarray:
    """What NVIDIA's generate.py does for one seed."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
    with torch.no_grad():
        ws = G.mapping(z.float(), torch.zeros([1, G.c_dim]), truncation_psi=psi)
        img = G.synthesis(ws, noise_mode="const")
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()


def _moving_frames(n: int, size: int = 256) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size]
    return [
        np.stack([(xx + 4 * i) % 256, (yy + 2 * i) % 256, ((xx + yy) // 2 + 3 * i) % 256], axis=-1).astype(np.uint8)
        for i in range(n)
    ]


def _psnr(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    mse = float(np.mean((reference.astype(np.float64) - candidate.astype(np.float64)) ** 2))
    return {"psnr": float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)}


# --- latents ---------------------------------------------------------------------------------

def test_seed_to_z_matches_generate_py() -> None:
    z = animate.seed_to_z(42, 512)
    assert z.shape == (1, 512) and z.dtype == torch.float64
    np.testing.assert_array_equal(z.numpy(), np.random.RandomState(42).randn(1, 512))


@pytest.mark.parametrize("method", animate.INTERPOLATION_METHODS)
def test_path_hits_keyframes_without_loop(method: str) -> None:
    keys = torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(1))
    path = animate.interpolation_path(keys, frames_between=5, method=method, loop=False)
    assert path.shape == (3 * 6 + 1, 3, 8) == (animate.path_length(4, 5, False), 3, 8)
    assert path.dtype == keys.dtype
    for k in range(4):  # keyframe k sits exactly at frame 6k, the last one at the end
        assert torch.equal(path[6 * k], keys[k])
    assert torch.equal(path[-1], keys[-1])


def test_path_length_formula_and_edge_cases() -> None:
    assert animate.path_length(3, 4, loop=False) == 11 and animate.path_length(3, 4, loop=True) == 15
    assert animate.path_length(1, 9, loop=False) == 1 and animate.path_length(2, 0, loop=True) == 2
    keys = torch.randn(1, 5)
    torch.testing.assert_close(animate.interpolation_path(keys, 3, "cubic", loop=True), keys.repeat(4, 1))
    with pytest.raises(ValueError):
        animate.interpolation_path(keys, -1, "linear", loop=False)
    with pytest.raises(ValueError):
        animate.interpolation_path(keys, 2, "bezier", loop=False)  # type: ignore[arg-type]


def test_linear_and_two_key_cubic_midpoints() -> None:
    keys = torch.tensor([[0.0, 0.0], [4.0, 8.0]], dtype=torch.float64)
    lin = animate.interpolation_path(keys, 3, "linear", loop=False)
    torch.testing.assert_close(lin[2], torch.tensor([2.0, 4.0], dtype=torch.float64))
    # Reflected end neighbours make a two-keyframe Catmull-Rom a straight, evenly paced line.
    torch.testing.assert_close(animate.interpolation_path(keys, 3, "cubic", loop=False), lin)


def test_slerp_keeps_norm_and_handles_parallel_vectors() -> None:
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, 512, generator=gen, dtype=torch.float64)
    b = b * (a.norm() / b.norm())
    path = animate.interpolation_path(torch.stack([a, b]), 20, "slerp", loop=False)
    torch.testing.assert_close(path.norm(dim=-1), a.norm().expand(22), rtol=1e-12, atol=0)
    lin = animate.interpolation_path(torch.stack([a, b]), 20, "linear", loop=False)
    assert lin[11].norm() < 0.8 * a.norm()  # why slerp exists: lerp of ~orthogonal vectors shrinks
    # Nearly parallel, exactly equal and opposite vectors: finite, and close to lerp.
    for other in (a * (1 + 1e-12) + 1e-10, a.clone(), -a):
        out = animate.slerp(a, other, torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)[:, None])
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, animate.lerp(a, other, torch.tensor([0.0, 0.3, 1.0]).double()[:, None]))


@pytest.mark.parametrize("method", animate.INTERPOLATION_METHODS)
def test_looped_path_is_seamless(method: str) -> None:
    keys = torch.randn(4, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    steps = 6
    path = animate.interpolation_path(keys, steps - 1, method, loop=True)
    assert path.shape[0] == 4 * steps and torch.equal(path[0], keys[0])
    # The seam is like every other keyframe: rotating the keyframes only rotates the path.
    rotated = animate.interpolation_path(torch.roll(keys, -1, dims=0), steps - 1, method, loop=True)
    torch.testing.assert_close(rotated, torch.roll(path, -steps, dims=0))
    # The step from the last frame back to the first is a typical step.
    step_sizes = (path[1:] - path[:-1]).norm(dim=-1)
    seam = (path[0] - path[-1]).norm()
    assert 0.5 < float(seam / step_sizes.median()) < 2.0


def test_looped_cubic_is_c1_across_the_seam() -> None:
    keys = torch.randn(4, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def seam_kink(method: str) -> float:  # relative change of the step vector at frame 0
        path = animate.interpolation_path(keys, 99, method, loop=True)
        before, after = path[0] - path[-1], path[1] - path[0]
        return float((after - before).norm() / before.norm())

    assert seam_kink("cubic") < 0.2  # O(1/steps): the velocity is continuous
    assert seam_kink("linear") > 1.0  # a polyline turns a corner at every keyframe


# --- latent walk -----------------------------------------------------------------------------

@pytest.mark.parametrize("space,method", [("z", "slerp"), ("w", "cubic"), ("w", "linear")])
def test_latent_walk_frames(space: str, method: str) -> None:
    G = FakeG()
    seeds, psi = [3, 7, 11], 0.7
    calls: list[tuple[float, str]] = []
    frames = animate.render_latent_walk(
        G, seeds, frames_between=4, space=space, method=method, psi=psi, loop=False, batch_size=4,
        progress=lambda f, msg: calls.append((f, msg)),
    )
    assert len(frames) == animate.path_length(3, 4, loop=False) == 11
    assert all(f.dtype == np.uint8 and f.shape == (16, 16, 3) for f in frames)
    np.testing.assert_array_equal(frames[0], _generate_py_image(G, seeds[0], psi))
    np.testing.assert_array_equal(frames[5], _generate_py_image(G, seeds[1], psi))
    np.testing.assert_array_equal(frames[-1], _generate_py_image(G, seeds[-1], psi))
    assert not np.array_equal(frames[1], frames[0])
    assert set(G.synthesis.noise_modes) == {"const"}
    assert len(calls) == 3 and calls[-1][0] == 1.0


def test_latent_walk_loop_resize_and_fast_path() -> None:
    G = FakeG()
    exact = animate.render_latent_walk(G, [1, 2], 3, space="w", method="cubic", psi=0.5, loop=True, batch_size=3)
    assert len(exact) == 8
    fast = animate.render_latent_walk(G, [1, 2], 3, space="w", method="cubic", psi=0.5, loop=True, fast=True)
    diff = np.abs(np.stack(fast).astype(int) - np.stack(exact).astype(int))
    assert diff.mean() < 1.5 and diff.max() <= 12  # bfloat16 synthesis vs float32
    resized = animate.render_latent_walk(G, [1, 2], 3, loop=True, size=(24, 20))
    assert resized[0].shape == (20, 24, 3)
    with pytest.raises(ValueError):
        animate.render_latent_walk(G, [1], 3, space="x")  # type: ignore[arg-type]


# --- writers ---------------------------------------------------------------------------------

def test_gif_frames_duration_and_loop(tmp_path) -> None:
    frames = _moving_frames(12, 64)
    looped = media.write_gif(frames, tmp_path / "loop.gif", fps=20, loop=True)
    with Image.open(looped) as im:
        assert im.n_frames == 12 and im.info["duration"] == 50 and im.info.get("loop") == 0
        im.seek(5)
        back = np.asarray(im.convert("RGB"))
    assert np.abs(back.astype(int) - frames[5].astype(int)).mean() < 6  # 256-colour quantisation
    once = media.write_gif(frames, tmp_path / "once.gif", fps=12.5, loop=False)
    with Image.open(once) as im:
        assert im.n_frames == 12 and im.info["duration"] == 80 and im.info.get("loop") is None
    assert media.gif_frame_duration_ms(30) == 30 and media.gif_frame_duration_ms(200) == 20
    with pytest.raises(ValueError):
        media.write_gif([frames[0], frames[1][:32]], tmp_path / "bad.gif", fps=10)


def test_gif_of_60_frames_is_fast(tmp_path) -> None:
    frames = _moving_frames(60, 256)
    seconds = []
    for _ in range(2):  # best of two, so a busy shared machine does not decide the outcome
        start = time.perf_counter()
        media.write_gif(frames, tmp_path / "fast.gif", fps=25)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 1.0  # about 0.3 s on 2 idle cores
    with Image.open(tmp_path / "fast.gif") as im:
        assert im.n_frames == 60


def test_mp4_frames_fps_and_even_size(tmp_path) -> None:
    frames = [f[:63, :61] for f in _moving_frames(15, 64)]  # odd size: padded to 62x64
    path = media.write_mp4(frames, tmp_path / "walk.mp4", fps=24)
    meta = iio.immeta(path, plugin="FFMPEG")
    video = iio.imread(path, plugin="FFMPEG")
    assert meta["fps"] == 24 and meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert video.shape == (15, 64, 62, 3)
    assert np.abs(video[7, :63, :61].astype(int) - frames[7].astype(int)).mean() < 6


def test_sheets_and_timeline() -> None:
    frames = _moving_frames(25, 32)
    strip = animate.frame_strip(frames, max_frames=10, height=48)
    assert strip.shape == (48 + 4, 10 * 48 + 11 * 2, 3)
    sheet = animate.contact_sheet([frames[0], frames[1][:16]], labels=["a", "b"], columns=1, gap=4)
    assert sheet.shape == (2 * 32 + 3 * 4, 32 + 2 * 4, 3)
    # The 16-row image is centred in its 32-row cell (8 rows down); its label box sits at the left.
    assert np.array_equal(sheet[4 + 32 + 4 + 8 + 12, 4 + 20 : 4 + 32], frames[1][12, 20:32])
    growing = [np.full((s, s, 3), 200, np.uint8) for s in (16, 32, 64)]
    timeline = animate.timeline_frames(growing, label=True)
    assert [f.shape for f in timeline] == [(64, 64, 3)] * 3
    assert timeline[0][60, 60].tolist() == [200, 200, 200] and timeline[0][4, 4].tolist() == [0, 0, 0]  # stamped
    plain = animate.timeline_frames(growing, size=(40, 20), label=False)
    assert plain[2].shape == (20, 40, 3) and plain[2][10, 2].tolist() == [0, 0, 0]  # letterboxed


# --- repeated run ----------------------------------------------------------------------------

def test_repeated_run_frames_scores_and_sizes() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    truth = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)

    def upscale_and_soften(x: np.ndarray) -> np.ndarray:  # a 2x "restorer" that drifts a little
        big = np.asarray(Image.fromarray(x).resize((x.shape[1] * 2, x.shape[0] * 2), Image.Resampling.BICUBIC))
        return (big.astype(np.float32) * 0.9 + 12).astype(np.uint8)

    progress: list[float] = []
    result = animate.repeated_run(
        upscale_and_soften, image, runs=3, score=_psnr, ground_truth=truth, progress=lambda f, m: progress.append(f)
    )
    assert len(result.frames) == 4 and result.frames[0] is image
    assert result.sizes == [(20, 24), (40, 48), (80, 96), (160, 192)]
    assert len(result.scores_vs_input) == 4 and result.scores_vs_gt is not None and len(result.scores_vs_gt) == 4
    assert result.scores_vs_input[0]["psnr"] == float("inf")
    psnrs = [row["psnr"] for row in result.scores_vs_input]
    assert psnrs[1] > psnrs[2] > psnrs[3]  # the drift accumulates
    assert result.scores_vs_gt[0] == _psnr(truth, animate.resize_lanczos(image, (48, 40)))
    assert len(result.seconds) == 4 and result.seconds[0] == 0.0 and result.total_seconds >= 0
    assert progress == [1 / 3, 2 / 3, 1.0]

    plain = animate.repeated_run(lambda x: x[::-1].copy(), image, runs=2)
    assert len(plain.frames) == 3 and plain.scores_vs_input == [] and plain.scores_vs_gt is None
    assert np.array_equal(plain.frames[2], image)
    with pytest.raises(ValueError, match="output of run 1"):
        animate.repeated_run(lambda x: x.astype(np.float32), image, runs=1)
