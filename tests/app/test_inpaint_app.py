"""The Restore tab's 'Inpaint a face' handler: the editor's value (photo + white brush strokes) becomes an
inpainting mask; a tiny CodeFormer inpainting checkpoint (uploaded as your own) redraws only what was painted;
the registry model without its file says where to get it. Also: the colouriser is never preselected offline."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from conftest import require_shared
from hubcache import checkpoint_bytes
from restorers.media import images
from test_codeformer_modes import OWN, tiny_state_dict


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return images.load_image(require_shared("faces", "gfpgan-cropped", "Adele_crop.png")).rgb


def editor_value(rgb: np.ndarray, box: tuple[int, int, int, int] | None) -> tuple[dict, np.ndarray]:
    """What gr.ImageEditor(type='numpy', image_mode='RGBA') hands the handler: background and stroke layers."""
    background = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    layer = np.zeros_like(background)
    mask = np.zeros(rgb.shape[:2], bool)
    if box is not None:
        top, left, bottom, right = box
        layer[top:bottom, left:right] = (255, 255, 255, 255)
        mask[top:bottom, left:right] = True
    composite = background.copy()
    composite[mask] = (255, 255, 255, 255)
    return {"background": background, "layers": [layer], "composite": composite}, mask


def test_editor_value_to_image_and_mask(face) -> None:
    from webui.inpaint_section import editor_image_and_mask

    value, mask = editor_value(face, (100, 120, 160, 300))
    rgb, got = editor_image_and_mask(value)
    assert np.array_equal(rgb, face) and np.array_equal(got, mask)
    value, _ = editor_value(face, None)
    assert editor_image_and_mask(value)[1] is None  # nothing painted: the engine's white-pixel rule applies
    with pytest.raises(gr.Error, match="Upload a face"):
        editor_image_and_mask({"background": None, "layers": []})


def test_inpaint_handler_with_your_checkpoint_keeps_unpainted_pixels(face, tmp_path, hub_cache) -> None:
    from webui.inpaint_section import run_inpaint

    path = tmp_path / "inpaint_tiny.pth"
    path.write_bytes(checkpoint_bytes(tiny_state_dict(512, OWN)))
    value, mask = editor_value(face, (200, 150, 300, 360))
    out, status = run_inpaint(value, "codeformer-inpainting", "aligned", str(path))
    result = images.load_image(out).rgb
    assert result.shape == face.shape
    assert np.array_equal(result[~mask], face[~mask])
    assert not np.array_equal(result[mask], face[mask])
    assert "Inpainted the face" in status and f"{int(mask.sum())} pixels painted" in status


def test_inpaint_handler_without_the_file_says_where_to_get_it(face, hub_cache) -> None:
    from webui.inpaint_section import inpaint_choices, run_inpaint

    assert inpaint_choices() == [("CodeFormer inpainting (faces) · missing weights", "codeformer-inpainting")]
    value, _ = editor_value(face, (200, 150, 300, 360))
    with pytest.raises(gr.Error) as caught:
        run_inpaint(value, "codeformer-inpainting", "aligned", None)
    assert "github.com/sczhou/CodeFormer/releases" in str(caught.value.message)
    assert "RESTORERS_WEIGHTS_DIR" in str(caught.value.message)
    # A checkpoint that is not an inpainting network is refused in words.
    with pytest.raises(gr.Error, match="not an inpainting model"):
        run_inpaint(value, "gfpgan-v1.4", "aligned", None)


def test_new_models_cannot_run_offline_and_are_never_preselected(hub_cache) -> None:
    from webui.common import model_choices, runnable, runnable_selection
    from webui.restore_tab import example_rows

    assert runnable("codeformer-colorization", "codeformer-inpainting") == []
    labels = dict((name, label) for label, name in model_choices("face"))
    assert labels["codeformer-colorization"].endswith("missing weights")
    assert labels["codeformer-inpainting"].endswith("missing weights")
    assert runnable_selection("codeformer-colorization") == "lanczos"
    assert all("codeformer-colorization" not in row[1] for row in example_rows())


def test_restore_tab_colourises_a_grey_face_with_your_checkpoint_and_says_only_faces(face, tmp_path, hub_cache) -> None:
    from PIL import Image

    from webui import restore_tab

    checkpoint = tmp_path / "colorizer_tiny.pth"
    checkpoint.write_bytes(checkpoint_bytes(tiny_state_dict(1024, OWN)))
    gray = tmp_path / "gray.png"
    Image.fromarray(face).convert("L").save(gray)
    gallery, *_rest, status, files, _state = restore_tab.run_restore(
        str(gray), [], 1.0, "aligned", "none", False, 0, 0.97, 1.0, "0.5", str(checkpoint), None)
    assert "colours faces only" in status
    with Image.open(gallery[0][0]) as saved:
        assert saved.mode == "RGB"  # a grey input's coloured result is not saved back as grayscale
        rgb = np.asarray(saved)
    assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2].astype(int)).max() > 0
