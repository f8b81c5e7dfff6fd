"""Smoke test of the benchmark runner: `python -m benchmarks --quick` on tiny inputs.

Checks the shape of what it writes and prints (sections, rows, Markdown tables), not the numbers:
--quick timings mean nothing.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks import run as bench_run
from conftest import REPO_ROOT, SHARED, require_shared


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def test_quick_run_writes_every_default_section(quick_run):
    results, _ = quick_run
    header = results["header"]
    assert header["quick"] is True and header["repeats"] == 1
    assert header["torch"] and header["threads"] >= 1 and isinstance(header["bf16"], bool)
    assert len(header["load_average"]) == 3
    assert list(results["sections"]) == ["models", "faces", "metrics", "animate"]  # no 2048, no cold start
    for name, section in results["sections"].items():
        assert section["rows"] and section["seconds"] > 0
        if name != "faces" or SHARED.exists():  # the face section needs the photos in ../shared
            assert not [row for row in section["rows"] if "error" in row]


def test_quick_model_row_has_latencies_ratio_psnr_and_rss(quick_run):
    results, _ = quick_run
    (row,) = results["sections"]["models"]["rows"]
    assert row["case"] == "realesr-general-x4v3@256"
    assert row["input"] == "1x3x32x32" and row["output"] == "1x3x128x128"
    assert row["fp32_s"] > 0 and row["fast_s"] > 0
    assert math.isclose(row["speedup"], row["fp32_s"] / row["fast_s"])
    assert row["psnr_db"] is None or row["psnr_db"] > 30  # bf16 vs fp32 on one conv net
    assert 100 < row["peak_rss_mib"] < 4096
    assert "random init" in row["weights"]


def test_quick_faces_and_metrics_rows(quick_run):
    results, _ = quick_run
    (faces,) = results["sections"]["faces"]["rows"]
    if SHARED.exists():  # photos from ../shared

        assert faces["faces_found"] >= 3 and faces["faces_restored"] == faces["faces_found"]
        assert faces["group_faces"] > 0
        assert faces["sequential_over_batched"] > 0
    metrics = results["sections"]["metrics"]["rows"]
    assert {r["metric"] for r in metrics} >= {"psnr", "ssim", "vifp"} and {r["size"] for r in metrics} == {64}
    animate = results["sections"]["animate"]["rows"]
    assert [r["frames"] for r in animate] == [4, 4, 4]


def test_quick_run_prints_a_header_and_one_table_per_section(quick_run):
    _, stdout = quick_run
    assert "torch " in stdout and "threads" in stdout and "load average" in stdout
    titles = [line for line in stdout.splitlines() if line.startswith("## ")]
    assert len(titles) == 4
    assert "| realesr-general-x4v3@256 | 1x3x32x32 → 1x3x128x128 |" in stdout
    assert stdout.count("|---|") >= 5  # models, faces (2), metrics, animate


def test_section_selection():
    options = bench_run.parse_args([])
    assert bench_run.select_sections(options) == ["models", "faces", "paste", "coldstart", "metrics", "animate",
                                                  "video", "dcgan", "e2e"]
    assert bench_run.select_sections(bench_run.parse_args(["--only", "paste"])) == ["paste"]
    assert "e2e" not in bench_run.select_sections(bench_run.parse_args(["--quick"]))
    assert bench_run.select_sections(bench_run.parse_args(["--quick", "--only", "e2e"])) == ["e2e"]
    assert "sr2048" in bench_run.select_sections(bench_run.parse_args(["--with-2048"]))
    assert bench_run.select_sections(bench_run.parse_args(["--only", "animate,models"])) == ["models", "animate"]
    with pytest.raises(SystemExit):
        bench_run.select_sections(bench_run.parse_args(["--only", "nope"]))


def test_fastpath_study_runs_each_variant_and_compares_with_fp32():
    from benchmarks import bench_fastpath

    net = bench_fastpath.build("srvgg", 16)
    rows = {r["variant"]: r for r in bench_fastpath.measure(net, ["fp32", "bf16w", "int8", "nonsense"], 1)}
    assert rows["fp32"]["min_s"] > 0 and rows["fp32"]["psnr_db"] is None  # the reference itself
    assert rows["bf16w"]["psnr_db"] > 30 and rows["int8"]["psnr_db"] > 20
    assert "unknown variant" in rows["nonsense"]["error"]
    assert bench_fastpath.count_flops(net) > 2 * 64 * 64 * 9 * 16 * 16 * 30  # 32 convs of 64 channels


# ----------------------------------------------------------------------------------------------------
# End-to-end waits (benchmarks/bench_e2e.py) in --quick mode: every row, every column, on tiny work.

E2E_GROUPS = {"aligned face", "whole photo", "app click", "tiling", "SR", "DCGAN", "clip"}


@pytest.fixture(scope="module")
def e2e_quick(tmp_path_factory):
    require_shared("weights", "hf-cache")  # the real face detector
    require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg")
    out = tmp_path_factory.mktemp("e2e") / "runner.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "e2e", "--json", str(out)],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["sections"]["e2e"]["rows"]
    assert "error" not in row, row
    return row["results"], proc.stdout


def test_e2e_quick_measures_every_wait_against_the_floor(e2e_quick):
    results, _ = e2e_quick
    rates = results["rates"]
    assert rates["matmul_bf16"] > 1e9 and rates["matmul_fp32"] > 1e9  # FLOP/s, measured in the same run
    assert results["header"]["quick"] is True and len(results["header"]["load_start"]) == 3
    assert "gpen-bfr-256" in results["header"]["random_weights"]
    rows = results["rows"]
    assert {row["group"] for row in rows} == E2E_GROUPS
    for row in rows:
        assert "error" not in row, row
        assert row["seconds"] > 0 and row["gflop"] > 0 and row["floor_s"] > 0, row["case"]
        assert math.isclose(row["x_floor"], row.get("extrapolated_s", row["seconds"]) / row["floor_s"])
        assert row["x_floor_best"] >= row["x_floor"] - 1e-9  # the best format's floor is never longer
        assert math.isclose(row["other_s"], row["seconds"] - sum(row["stages"].values()), abs_tol=1e-9)
        assert len(row["load_before"]) == 3


def test_e2e_quick_rows_split_the_wait_into_stages(e2e_quick):
    results, _ = e2e_quick
    rows = {(row["group"], row["case"]): row for row in results["rows"]}
    whole = rows[("whole photo", "gpen-bfr-256 + realesr-general-x4v3")]
    assert whole["faces"] == 2 and whole["input"].startswith("256x170 photo")
    assert {"detect", "align", "face net", "SR net", "paste", "PNG encode"} <= set(whole["stages"])
    assert whole["formats"]["detect"] == "fp32" and whole["formats"]["face net"] == whole["precision"]
    assert set(whole["network_x_floor"]) == {"detect", "face net", "SR net"}
    assert rows[("whole photo", "gpen-bfr-256 + none")]["output"] == "256x170"
    assert rows[("whole photo", "gpen-bfr-256 + lanczos")]["output"] == "512x340"
    click = rows[("app click", "gpen-bfr-256 + lanczos")]
    assert click["output"] == "512x340" and click["png"] == ".png"
    # The click's FLOPs are the in-process row's; queue and HTTP land in "other".
    assert click["gflop"] == rows[("whole photo", "gpen-bfr-256 + lanczos")]["gflop"]
    assert click["stages"]["PNG encode"] > 0 and click["stages"]["decode"] > 0
    clip = rows[("clip", "gpen-bfr-256 + lanczos x2")]
    assert clip["frames_timed"] == 1 and clip["extrapolated_s"] == pytest.approx(2 * clip["seconds"])
    assert rows[("DCGAN", "one epoch, batch 16, channels_last")]["formats"] == {"train": "fp32"}


def test_e2e_quick_prints_the_table_and_the_targets(e2e_quick):
    _, stdout = e2e_quick
    assert "## End-to-end waits and the compute floor" in stdout
    assert "| wait | input | s (min) | runs | GFLOP | floor s | x floor | x best floor |" in stdout
    assert "| whole photo: gpen-bfr-256 + realesr-general-x4v3 | 256x170 photo (Blake_Lively.jpg) |" in stdout
    assert "| target | limit | measured | measured / limit |" in stdout
    assert "DCGAN epoch, 2,000 images at 32 px" in stdout and "load average" in stdout
