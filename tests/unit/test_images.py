"""The image contract: anything Pillow reads becomes HxWx3 uint8 RGB (+ alpha), or a clear error."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import require_shared
from restorers.media import images


def png_bytes(img: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def test_rgba_photo_splits_alpha():
    loaded = images.load_image(require_shared("faces", "realesrgan-inputs", "children-alpha.png"))
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.ndim == 3 and loaded.rgb.shape[2] == 3
    assert loaded.alpha is not None and loaded.alpha.shape == loaded.rgb.shape[:2]
    assert loaded.alpha.min() < 255


def test_16bit_rgba_png_is_reduced_to_8_bits_with_alpha():
    loaded = images.load_image(require_shared("faces", "realesrgan-inputs", "tree_alpha_16bit.png"))
    assert loaded.bit_depth == 16
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (256, 342, 3)
    assert loaded.alpha is not None and loaded.alpha.min() == 0 and loaded.alpha.max() > 0
    assert 20 < loaded.rgb.mean() < 235  # real content, not a blank or saturated decode


def test_grayscale_source_is_marked_and_expanded():
    loaded = images.load_image(require_shared("faces", "realesrgan-inputs", "00017_gray.png"))
    assert loaded.grayscale
    assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    assert images.to_pil(loaded.rgb, None, True).mode == "L"


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif, quality=95)
    loaded = images.load_image(buffer.getvalue())
    assert loaded.rgb.shape[:2] == (40, 20)
    assert loaded.rgb[:20].mean() > 200 and loaded.rgb[20:].mean() < 50  # white half now on top


def test_palette_with_transparency_and_16bit_gray():
    palette = Image.new("P", (8, 8))
    palette.info["transparency"] = 0
    loaded = images.load_image(png_bytes(palette, transparency=0))
    assert loaded.alpha is not None and loaded.alpha.max() == 0
    gray16 = Image.fromarray((np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000))
    loaded = images.load_image(png_bytes(gray16))
    assert loaded.grayscale and loaded.rgb.dtype == np.uint8 and loaded.rgb.max() == round(63000 / 257)


@pytest.mark.parametrize("data", [b"", b"hello, not an image", png_bytes(Image.new("RGB", (4, 4)))[:40]])
def test_unreadable_inputs_raise_image_error(data):
    with pytest.raises(images.ImageError, match="not a readable image"):
        images.load_image(data)


def test_missing_file_and_bad_array_shapes():
    with pytest.raises(images.ImageError, match="no such file"):
        images.load_image("/definitely/not/here.png")
    with pytest.raises(images.ImageError, match="shape"):
        images.load_image(np.zeros((4, 4, 2), np.uint8))


def test_size_limit_is_enforced_with_a_clear_message(monkeypatch):
    monkeypatch.setenv(images.MAX_PIXELS_ENV, str(100 * 100))
    with pytest.raises(images.ImageTooLargeError, match="101x100.*RESTORERS_MAX_PIXELS"):
        images.load_image(png_bytes(Image.new("RGB", (101, 100))))
    assert images.load_image(png_bytes(Image.new("RGB", (100, 100)))).size == (100, 100)


def test_arrays_in_every_accepted_form():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    assert np.array_equal(images.load_image(rgb).rgb, rgb)
    assert np.array_equal(images.load_image(rgb.astype(np.float32) / 255.0).rgb, rgb)
    rgba = np.dstack([rgb, np.full((5, 6), 7, np.uint8)])
    loaded = images.load_image(rgba)
    assert np.array_equal(loaded.rgb, rgb) and loaded.alpha.max() == 7
    assert images.load_image(rgb[..., 0]).grayscale


def test_tensor_round_trip_in_both_value_ranges():
    rgb = np.random.default_rng(1).integers(0, 256, (2, 7, 9, 3), dtype=np.uint8)
    for value_range in [(0.0, 1.0), (-1.0, 1.0)]:
        tensor = images.to_tensor(rgb, value_range)
        assert tensor.shape == (2, 3, 7, 9)
        assert float(tensor.min()) >= value_range[0] and float(tensor.max()) <= value_range[1]
        assert np.array_equal(images.from_tensor(tensor, value_range), rgb)


def test_saved_png_keeps_alpha_and_grayscale(tmp_path):
    rgb = np.full((4, 4, 3), 100, np.uint8)
    alpha = np.full((2, 2), 50, np.uint8)  # resized to the image on save
    path = images.save_png(tmp_path / "x.png", rgb, alpha, grayscale=True)
    with Image.open(path) as img:
        assert img.mode == "LA" and img.size == (4, 4)


def test_unreadable_bytes_are_reported_without_a_repr():
    with pytest.raises(images.ImageError) as info:
        images.load_image(b"this is not an image")
    assert "object at 0x" not in str(info.value) and "not a readable image" in str(info.value)
