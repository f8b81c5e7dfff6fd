"""The Restore tab's paste-back mask: the radio's default, the option reaching the engine, the per-face mask
in the gallery, and the /restore endpoint for clients that predate the option."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gradio_client import handle_file

from conftest import require_shared
from restorers.media import images
from restorers.pipelines import face_mask
from test_paste_mask import comfy_cache, tiny_parser  # noqa: F401 (fixtures)
from webui import restore_tab

FACE_DEFAULTS = ["whole", "lanczos", False, 0, 0.97, 1.0]  # what clients before the mask option send


@pytest.fixture()
def spy_mask(monkeypatch) -> list:
    """Every mask value the engine is asked to resolve (None: the default)."""
    seen: list = []
    real = face_mask.resolve_mask

    def spy(mask):
        seen.append(mask)
        return real(mask)

    monkeypatch.setattr(face_mask, "resolve_mask", spy)
    return seen


@pytest.fixture()
def face_checkpoint(tmp_path) -> str:
    """A tiny GPEN (the golden case's weights) as your own checkpoint: a face model that runs offline."""
    data = torch.load(require_shared("golden", "gpen", "case_gpen_128.pt"), weights_only=True)
    path = tmp_path / "tiny_gpen.pth"
    torch.save(data["state_dict"], path)
    return str(path)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> str:
    rgb = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    path = tmp_path_factory.mktemp("mask") / "photo.png"
    images.save_png(path, images.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), "area"))
    return str(path)


def test_square_is_preselected_when_the_parser_weights_are_missing(hub_cache):
    assert restore_tab.default_mask() == "square"
    labels = dict((value, label) for label, value in restore_tab.mask_choices())
    assert labels["parse"].endswith("· missing weights") and set(labels) == {"parse", "square"}


def test_parse_is_preselected_when_its_weights_verify(tiny_parser):  # noqa: F811
    assert restore_tab.default_mask() == "parse"
    assert dict((v, label) for label, v in restore_tab.mask_choices())["parse"].endswith("· ready")


def test_the_radio_reaches_the_engine_and_the_gallery_shows_the_mask(tiny_parser, face_checkpoint, photo,  # noqa: F811
                                                                     spy_mask):
    outputs = {}
    for mask in ("parse", "square"):
        gallery, _slider, _cmp, _rows, faces, status, files, _state = restore_tab.run_restore(
            photo, [], 1.0, "whole", "none", False, 0, 0.97, 1.0, "0.5", face_checkpoint, mask)
        outputs[mask] = images.load_image(gallery[0][0]).rgb
        captions = [caption for _path, caption in faces]
        assert any(c.endswith("paste mask") for c in captions) == (mask == "parse"), captions
    assert spy_mask == ["parse", "square"]
    original = images.load_image(photo).rgb
    assert np.array_equal(outputs["parse"], original)  # the tiny parser calls everything hair
    assert not np.array_equal(outputs["square"], original)
    # An empty value (an API client sending nothing) means the engine's default.
    restore_tab.run_restore(photo, [], 1.0, "whole", "none", False, 0, 0.97, 1.0, "0.5", face_checkpoint, None)
    assert spy_mask[-1] is None


def test_parse_without_its_weights_says_which_file(hub_cache, face_checkpoint, photo):
    *_, status, _files, _state = restore_tab.run_restore(
        photo, ["lanczos"], 1.0, "whole", "none", False, 0, 0.97, 1.0, "0.5", face_checkpoint, "parse")
    assert "parsing_parsenet.pth" in status and "RESTORERS_WEIGHTS_DIR" in status


def test_restore_endpoint_old_clients_and_the_new_argument(client, face_checkpoint, photo, spy_mask):
    api = client.view_api(print_info=False, return_format="dict")
    params = api["named_endpoints"]["/restore"]["parameters"]
    assert params[-1]["parameter_name"] == "mask" and params[-1]["parameter_has_default"]
    # A client from before the option: nine arguments, as tests/app/test_app_api.py sends them.
    gallery, *_ = client.predict(handle_file(photo), ["bicubic"], 1.0, *FACE_DEFAULTS, api_name="/restore")
    assert len(gallery) == 1
    # The new trailing argument reaches the engine.
    gallery, *_, status, _files = client.predict(
        handle_file(photo), [], 1.0, "whole", "none", False, 0, 0.97, 1.0, "0.5", handle_file(face_checkpoint),
        "square", api_name="/restore")
    assert len(gallery) == 1 and spy_mask[-1] == "square"


def test_the_request_budget_counts_the_parse_mask(photo):
    from webui import costs

    args = [photo, ["gfpgan-v1.4"], 1.0, "whole", "none", False, 0, 0.97, 1.0, "0.5", None]
    parse = dict(costs.restore(*args, "parse").parts)
    square = dict(costs.restore(*args, "square").parts)
    assert parse["face parsing (parse mask)"] > 0 and "face parsing (parse mask)" not in square
