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
from conftest import REPO_ROOT, SHARED


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
                                                  "video", "dcgan"]
    assert bench_run.select_sections(bench_run.parse_args(["--only", "paste"])) == ["paste"]
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
