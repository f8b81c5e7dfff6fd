"""The engine keeps glibc malloc from returning freed memory (and re-faulting it on the next call)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from restorers.models import runtime

SCRIPT = """
import resource, torch
from restorers.models import runtime
from restorers.models.archs.srvgg import SRVGGNetCompact
tuned = runtime.keep_freed_memory()
torch.set_num_threads(1)
net = SRVGGNetCompact(num_feat=32, num_conv=2).eval()
x = torch.rand(1, 3, 192, 192)
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    with torch.inference_mode():
        for _ in range(3):
            net(x)  # 4.7 MB feature maps, freed after each call
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(tuned, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")
def test_freed_memory_is_not_refaulted():
    def run(flag: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                             env={"RESTORERS_MALLOC_TUNING": flag, "PATH": "/usr/bin:/bin"},
                             cwd=Path(__file__).resolve().parents[2]).stdout.split()
        return out[0], int(out[1])

    tuned, tuned_faults = run("1")
    untuned, untuned_faults = run("0")
    assert (tuned, untuned) == ("True", "False")
    assert untuned_faults > 5000  # feature maps above glibc's 128 KiB mmap threshold, faulted in each call
    assert tuned_faults < untuned_faults / 5


def test_tuning_can_be_turned_off(monkeypatch):
    runtime.keep_freed_memory.cache_clear()
    monkeypatch.setenv(runtime.MALLOC_TUNING_ENV, "0")
    try:
        assert runtime.keep_freed_memory() is False
    finally:
        runtime.keep_freed_memory.cache_clear()
