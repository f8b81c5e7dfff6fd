"""Degrade -> restore -> score, and the repeated run, through the engine and the CLI."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from conftest import require_shared
from restorers.cli import commands as cli
from restorers.media import images
from restorers.analysis.evaluate import evaluate
from restorers.analysis.loop import run_loop


@pytest.fixture(scope="module")
def faces_256() -> list[tuple[str, np.ndarray]]:
    folder = require_shared("faces", "ffhq-gt")
    return [(p.name, images.resize(images.load_image(p).rgb, (256, 256), "area")) for p in sorted(folder.glob("*.png"))[:3]]


def test_evaluate_scores_baseline_and_models(faces_256):
    result = evaluate(faces_256, "downscale:4", ["bicubic", "lanczos"], metrics=["psnr", "ssim", "uqi"], keep_outputs=True)
    assert result.columns == ["degraded", "bicubic", "lanczos"]
    assert len(result.rows) == 9
    summary = result.summary()
    for column in result.columns:
        mean, std = summary["psnr"][column]
        assert 20 < mean < 45 and std >= 0
    assert all(r.resized for r in result.rows if r.column == "degraded")  # 64 px degraded -> 256 px truth
    assert all(not r.resized for r in result.rows if r.column != "degraded")
    assert result.outputs[("00000.png", "bicubic")].shape == (256, 256, 3)
    table = result.markdown()
    assert table.splitlines()[0] == "| metric | degraded | bicubic | lanczos |"
    assert "PSNR (dB)" in table and "±" in table
    rows = list(csv.DictReader(io.StringIO(result.csv())))
    assert len(rows) == 27 and {r["metric"] for r in rows} == {"psnr", "ssim", "uqi"}


def test_blur_is_scored_worse_than_the_original(faces_256):
    light = evaluate(faces_256[:1], "stackblur:2", [], metrics=["ssim"]).summary()["ssim"]["degraded"][0]
    heavy = evaluate(faces_256[:1], "stackblur:12", [], metrics=["ssim"]).summary()["ssim"]["degraded"][0]
    assert 0 < heavy < light < 1


def test_missing_weights_model_is_reported_and_others_still_scored(faces_256):
    result = evaluate(faces_256[:1], "stackblur:4", ["lanczos", "realesrgan-x4plus"], metrics=["psnr"])
    assert result.columns == ["degraded", "lanczos"]
    assert "RealESRGAN_x4plus.pth" in result.failures["realesrgan-x4plus"]


def test_bad_specs_raise():
    with pytest.raises(ValueError):
        evaluate([("x", np.zeros((8, 8, 3), np.uint8))], "blurry:3", ["bicubic"])
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate([("x", np.zeros((8, 8, 3), np.uint8))], "stackblur:1", ["bicubic"], metrics=["sharpness"])


def test_repeated_run_gives_runs_plus_one_frames_and_series(faces_256):
    name, face = faces_256[0]
    result = run_loop("lanczos", face, runs=3, scale=1.1, ground_truth=face)
    assert len(result.frames) == 4
    assert [s[0] for s in result.sizes] == [256, 282, 310, 341]
    assert len(result.scores_vs_input) == 4 and len(result.scores_vs_gt) == 4
    assert result.scores_vs_input[0]["ssim"] == pytest.approx(1.0)
    assert result.scores_vs_input[3]["ssim"] < result.scores_vs_input[1]["ssim"]
    with pytest.raises(ValueError, match="runs"):
        run_loop("lanczos", face, runs=31)


def test_loop_growth_is_capped():
    result = run_loop("bicubic", np.zeros((100, 100, 3), np.uint8), runs=3, scale=4.0, max_side=500)
    assert max(result.sizes[-1]) == 500


def test_cli_evaluate_prints_the_study_table(tmp_path, capsys, faces_256):
    for name, face in faces_256[:2]:
        Image.fromarray(face).save(tmp_path / name)
    out_csv = tmp_path / "scores.csv"
    code = cli.main(["evaluate", str(tmp_path), "--degrade", "stackblur:4", "--models", "bicubic",
                     "--metrics", "ssim", "psnr", "uqi", "--csv", str(out_csv)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| metric | degraded | bicubic |" in printed and "SSIM" in printed and "UQI" in printed
    assert out_csv.read_text().startswith("image,column,metric,value")


def test_cli_degrade_and_loop_write_files(tmp_path, faces_256):
    src = tmp_path / "face.png"
    Image.fromarray(faces_256[0][1]).save(src)
    assert cli.main(["degrade", str(src), "-d", "jpeg:20", "-o", str(tmp_path / "deg")]) == 0
    assert (tmp_path / "deg" / "face_jpeg20.png").is_file()
    gif = tmp_path / "timeline.gif"
    assert cli.main(["loop", str(src), "-m", "lanczos", "--runs", "2", "--scale", "1.1", "-o", str(gif)]) == 0
    with Image.open(gif) as img:
        assert img.n_frames == 3


def test_cli_restore_reports_each_bad_input_and_exits_nonzero(tmp_path, capsys):
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 6)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    code = cli.main(["restore", str(good), str(bad), str(tmp_path / "absent.png"), "-m", "lanczos", "-s", "2",
                     "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert (tmp_path / "out" / "good_lanczos.png").is_file()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 2 and "bad.png" in lines[0] and "absent.png" in lines[1]


def test_cli_missing_weights_is_one_clear_line_per_input(tmp_path, capsys):
    for i in range(2):
        Image.new("RGB", (8, 8)).save(tmp_path / f"in{i}.png")
    code = cli.main(["restore", str(tmp_path), "-m", "realesrgan-x2plus", "-o", str(tmp_path / "out")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(err) == 2
    assert "nateraw/real-esrgan" in err[0] and "skipped" in err[1]


def test_cli_unknown_model_exits_2(capsys):
    assert cli.main(["restore", "x.png", "-m", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_downscale_baseline_column_is_not_the_lanczos_column():
    """The degraded column is the image as received (nearest neighbour), not a Lanczos restoration."""
    from restorers.analysis.evaluate import evaluate

    rng = np.random.default_rng(1)
    gt = np.clip(rng.normal(128, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
    result = evaluate([("a.png", gt)], "downscale:4", ["bicubic", "lanczos"], metrics=["psnr"], keep_outputs=True)
    scores = {r.column: r.scores["psnr"] for r in result.rows}
    assert len({round(v, 6) for v in scores.values()}) == 3, scores
    assert [r.resized for r in result.rows] == [True, False, False]
    degraded = result.outputs[("a.png", "degraded")]
    assert np.array_equal(degraded[0:4, 0:4], np.broadcast_to(degraded[0, 0], (4, 4, 3)))  # blocks of 4x4
