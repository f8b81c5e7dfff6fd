"""Device and precision choices (the CUDA branches are decided without needing a GPU)."""
from __future__ import annotations

import pytest
import torch

from restorers.models import runtime


def test_auto_precision_per_device(monkeypatch):
    assert runtime.resolve_precision(torch.device("cuda"), "auto") == "fp16"
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: True)
    assert runtime.resolve_precision(torch.device("cpu"), "auto") == "bf16"
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    assert runtime.resolve_precision(torch.device("cpu"), "auto") == "fp32"


def test_explicit_and_environment_precision(monkeypatch):
    assert runtime.resolve_precision(torch.device("cpu"), "fp32") == "fp32"
    assert runtime.resolve_precision(torch.device("cuda"), "bf16") == "bf16"
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp32")
    assert runtime.resolve_precision(torch.device("cpu")) == "fp32"
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        runtime.resolve_precision(torch.device("cpu"), "fp16")
    with pytest.raises(ValueError, match="unknown precision"):
        runtime.resolve_precision(torch.device("cpu"), "int8")


def test_cuda_request_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.pick_device().type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        runtime.pick_device("cuda")


def test_inference_context_autocasts_on_cpu():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.rand(1, 3, 8, 8)
    with runtime.inference(torch.device("cpu"), "bf16"):
        assert conv(x).dtype == torch.bfloat16
        assert torch.is_inference_mode_enabled()
    with runtime.inference(torch.device("cpu"), "fp32"):
        assert conv(x).dtype == torch.float32
    assert "bf16 autocast" in runtime.describe(torch.device("cpu"), "bf16")


@pytest.mark.parametrize("avx512_bf16, amx, expected", [(True, False, True), (False, True, True), (False, False, False)])
def test_bf16_needs_native_instructions(monkeypatch, avx512_bf16, amx, expected):
    # oneDNN's own check says yes on plain AVX-512, where bf16 is emulated and 1.5-2x slower than fp32.
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    runtime.cpu_supports_bf16.cache_clear()
    try:
        assert runtime.cpu_supports_bf16() is expected
    finally:
        runtime.cpu_supports_bf16.cache_clear()


def test_bf16_from_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512bw avx512_vnni\n")
    assert runtime._cpu_flags_have_bf16(str(cpuinfo)) is False
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert runtime._cpu_flags_have_bf16(str(cpuinfo)) is True
    assert runtime._cpu_flags_have_bf16(str(tmp_path / "missing")) is False
