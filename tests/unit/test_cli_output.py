"""The command line: what `restore` prints, which model an error names, and a fast `--help`."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from restorers.cli.commands import main

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "gradio", "scipy", "huggingface_hub", "pandas")


def _photo(tmp_path: Path, name: str = "face.png") -> Path:
    path = tmp_path / name
    Image.new("RGB", (48, 40), (120, 80, 60)).save(path)
    return path


def test_restore_prints_where_each_output_went(tmp_path, capsys):
    a, b = _photo(tmp_path, "a.png"), _photo(tmp_path, "b.png")
    out = tmp_path / "out"
    assert main(["restore", str(a), str(b), "--model", "lanczos", "--scale", "2", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{a} -> {out / 'a_lanczos.png'} (96x80, {lines[0].split(', ')[1]}",
                     f"{b} -> {out / 'b_lanczos.png'} (96x80, {lines[1].split(', ')[1]}"]
    assert (out / "a_lanczos.png").is_file() and (out / "b_lanczos.png").is_file()


def test_degrade_prints_where_each_output_went(tmp_path, capsys):
    # It used to print nothing on success, so a new user did not know where the files went.
    a = _photo(tmp_path, "a.png")
    out = tmp_path / "out"
    assert main(["degrade", str(a), "--degradation", "downscale:2", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [f"{a} -> {out / 'a_downscale2.png'} (24x20)"]
    assert (out / "a_downscale2.png").is_file()


def test_missing_background_weights_name_the_background_model(hub_cache, tmp_path, capsys):
    # GPEN with a Real-ESRGAN background, offline: the x2plus weights fail first. The skip lines used to
    # blame gpen-bfr-512.
    a, b = _photo(tmp_path, "a.png"), _photo(tmp_path, "b.png")
    code = main(["restore", str(a), str(b), "--model", "gpen-bfr-512", "--bg-upsampler", "realesrgan-x2plus",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "RealESRGAN_x2plus.pth" in err
    assert f"{b}: skipped: the weights of realesrgan-x2plus (needed by gpen-bfr-512) are unavailable" in err


def test_bad_background_upsampler_names_the_option(tmp_path, capsys):
    code = main(["restore", str(_photo(tmp_path)), "--model", "gpen-bfr-512", "--bg-upsampler", "gpen-bfr-256"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--bg-upsampler 'gpen-bfr-256' is not one of: auto, none, bicubic, lanczos" in err


def test_help_is_fast_and_imports_no_heavy_module(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "restorers", "--help"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert done.returncode == 0 and "restore" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "restorers.cli" in imported
    assert not [m for m in imported if m.split(".")[0] in HEAVY], sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert seconds < 4.0, f"--help took {seconds:.1f} s"  # was 4-8.5 s with torch; ~0.3 s on an idle machine


def test_import_restorers_is_light_and_the_api_is_unchanged():
    code = (
        "import sys, restorers\n"
        "heavy = [m for m in ('torch', 'scipy', 'gradio') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "names = set(restorers.__all__)\n"
        "assert names <= set(dir(restorers)), names - set(dir(restorers))\n"
        "from restorers import Restorer, RestoreResult, make_restorer\n"
        "assert isinstance(restorers.load('lanczos'), Restorer)\n"
        "assert all(hasattr(restorers, n) for n in names)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_models_lists_a_bad_local_file_with_the_reason(hub_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESTORERS_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "RealESRGAN_x4plus.pth").write_bytes(b"not the weights")
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("realesrgan-x4plus "))
    assert lines[row].split()[2] == "override-bad"
    assert "RealESRGAN_x4plus.pth: 15 bytes where the pinned file has" in lines[row + 1]


def test_models_prints_every_licence_whole(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "S-Lab License 1.0 (non-commercial use only)" in out
    assert "NVIDIA Source Code License (non-commercial)" in out
