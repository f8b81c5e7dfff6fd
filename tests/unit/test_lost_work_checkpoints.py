"""Checkpoints and generators that used to fail with Python's words (issue 22, items 12-14): scalars where
weights belong, megabyte key names, NaN weights, torch's weights_only advice, x.PKL, DCGAN's NaN epochs.
Every file is generated here."""
from __future__ import annotations

import io
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import require_shared
from restorers.analysis.generate import load_generator
from restorers.cli.commands import main
from restorers.models.archs.rrdbnet import RRDBNet
from restorers.models.checkpoint import CheckpointError, checkpoint_spec, inspect_state_dict
from restorers.pipelines.restorer import NonFiniteOutputError, make_restorer

RRDB_KEYS = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_up1.weight",
             "conv_up2.weight", "conv_hr.weight", "conv_last.weight")
MESSAGE_CAP = 2000  # no message about a user's file may be longer than this


def tiny_rrdb_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4).state_dict()


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("tensor", [torch.tensor(1.0), torch.zeros(3)], ids=["0-dim", "1-D"])
def test_scalars_and_vectors_under_rrdb_keys_get_a_sentence(tensor: torch.Tensor, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "flat.pth"
    torch.save({key: tensor.clone() for key in RRDB_KEYS}, path)
    with pytest.raises(CheckpointError) as refused:
        checkpoint_spec(path)
    message = str(refused.value)
    assert f"RRDBNet-like, but 'conv_last.weight' is a {tensor.ndim}-D tensor" in message
    assert "at least 4 dimensions" in message
    assert main(["restore", str(_photo(tmp_path)), "--weights", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'flat.pth': RRDBNet-like") and "unpack" not in err and "IndexError" not in err


def test_huge_key_names_are_cut_in_every_message(tmp_path: Path) -> None:
    huge = ["k" * 2_000_000 + str(i) for i in range(5)]
    unknown = {name: torch.zeros(1) for name in huge}
    with pytest.raises(CheckpointError) as refused:
        inspect_state_dict(unknown, "'big.pth'")
    assert "unrecognised checkpoint: 5 tensors" in str(refused.value) and len(str(refused.value)) < MESSAGE_CAP
    extra = {**tiny_rrdb_state(), **unknown}  # an RRDBNet with five unexpected tensors
    with pytest.raises(CheckpointError) as refused:
        inspect_state_dict(extra, "'big.pth'")
    assert "5 unexpected (e.g. kkk" in str(refused.value) and len(str(refused.value)) < MESSAGE_CAP
    not_tensors = {huge[0]: "text"}
    with pytest.raises(CheckpointError) as refused:
        inspect_state_dict(not_tensors, "'big.pth'")
    assert "holds a str" in str(refused.value) and len(str(refused.value)) < MESSAGE_CAP


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_refused_at_load(value: float, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    state = tiny_rrdb_state()
    state["conv_hr.weight"][0, 0, 0, 0] = value
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"1 tensor\(s\) hold NaN or infinite values \(e.g. conv_hr.weight\)"):
        checkpoint_spec(path)
    out = tmp_path / "out"
    assert main(["restore", str(_photo(tmp_path)), "--weights", str(path), "-o", str(out)]) == 2
    assert "NaN or infinite" in capsys.readouterr().err and not out.exists()  # no black image


def test_output_that_overflows_says_it_is_not_finite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Finite weights, but so large that the activations overflow to inf and then NaN.
    state = {k: v * 1e12 if k.endswith("weight") else v for k, v in tiny_rrdb_state().items()}
    path = tmp_path / "loud.pth"
    torch.save(state, path)
    restorer = make_restorer(checkpoint_spec(path), "cpu", "fp32")
    with pytest.raises(NonFiniteOutputError, match="the output is not finite"):
        restorer.restore(np.full((12, 16, 3), 128, np.uint8))
    out = tmp_path / "out"
    code = main(["restore", str(_photo(tmp_path)), "--weights", str(path), "-o", str(out), "--precision", "fp32"])
    assert code == 1 and "the output is not finite" in capsys.readouterr().err
    assert not out.exists() or not list(out.iterdir())


def test_torch_advice_to_load_unsafely_never_reaches_a_user(tmp_path: Path) -> None:
    from fractions import Fraction  # a harmless class, but not tensors or plain data: torch's safe loader refuses it

    cases = {"random.pth": bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
             "text.pth": b"just some text\n" * 20, "empty.pth": b""}
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(2), "extra": Fraction(1, 3)}, buffer, pickle_protocol=2)
    cases["object.pth"] = buffer.getvalue()
    cases["plain.pth"] = pickle.dumps({"a": 1})
    messages = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as refused:
            checkpoint_spec(tmp_path / name)
        messages[name] = str(refused.value)
    for name, message in messages.items():
        assert message.startswith(f"'{name}' is not a readable PyTorch checkpoint"), message
        assert "weights_only" not in message and "Re-running" not in message and str(tmp_path) not in message
    assert "fractions.Fraction" in messages["object.pth"] and "never loaded here" in messages["object.pth"]
    assert "empty" in messages["empty.pth"].split("checkpoint", 1)[1]


def test_generator_file_suffix_is_case_insensitive(tmp_path: Path) -> None:
    upload = tmp_path / "uploads" / "x.PKL"
    upload.parent.mkdir()
    shutil.copy(require_shared("golden", "stylegan2_ada", "case_ada_small.pkl"), upload)
    generator = load_generator(str(upload), "cpu")
    assert sum(p.numel() for p in generator.parameters()) > 0
    (tmp_path / "junk.PKL").write_bytes(b"not a pickle at all")
    for bad, expected in ((tmp_path / "junk.PKL", "not a StyleGAN2-ADA network pickle"),
                          (tmp_path / "gone" / "y.Pkl", "y.Pkl: no such generator file")):
        with pytest.raises(ValueError) as refused:
            load_generator(str(bad), "cpu")
        assert expected in str(refused.value) and str(tmp_path) not in str(refused.value)


def test_generator_with_nan_weights_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from restorers.models import stylegan_pickle

    source = require_shared("golden", "stylegan2_ada", "case_ada_small.pkl")
    real = stylegan_pickle.load_stylegan2_ada_pickle

    def poisoned(path):  # noqa: ANN001, ANN202 - the real loader, then one weight set to NaN
        generator = real(path)
        next(p for p in generator.parameters() if p.is_floating_point()).data.fill_(float("nan"))
        return generator

    monkeypatch.setattr(stylegan_pickle, "load_stylegan2_ada_pickle", poisoned)
    path = tmp_path / "nan.pkl"
    shutil.copy(source, path)
    with pytest.raises(ValueError, match="NaN or infinite values"):
        load_generator(str(path), "cpu")
