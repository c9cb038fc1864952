"""Safe decoding and preprocessing of untrusted image bytes (no database)."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vision.engine.preprocess import (
    Augmenter,
    ImageRejected,
    augment_batch,
    decode_image,
    preprocess_bytes,
    to_tensor,
)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def red_blue(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def test_exif_orientation_is_applied():
    # given a landscape JPEG whose EXIF says "rotate 90 degrees clockwise to display"
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(red_blue(), "JPEG", exif=exif.tobytes(), quality=95)

    # when
    image = decode_image(data)

    # then it comes out upright: portrait, the red left half now on top
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 3)), image.getpixel((10, 36))
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60


def test_image_without_exif_keeps_its_size():
    assert decode_image(encode(red_blue(), "PNG")).size == (40, 20)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_decode_to_rgb(fmt):
    image = decode_image(encode(red_blue(), fmt))
    assert image.mode == "RGB"
    assert image.size == (40, 20)


def test_greyscale_becomes_rgb():
    image = decode_image(encode(Image.new("L", (8, 8), 128), "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (128, 128, 128)


def test_palette_with_transparency_becomes_rgb_on_white():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 255, 0] + [10, 10, 10] * 255)
    palette.putpixel((0, 0), 1)
    data = encode(palette, "PNG", transparency=1)
    image = decode_image(data)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)  # the transparent index
    assert image.getpixel((5, 5)) == (0, 255, 0)


def test_rgba_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((1, 1), (255, 0, 0, 255))
    rgba.putpixel((2, 2), (0, 0, 0, 128))
    image = decode_image(encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.getpixel((1, 1)) == (255, 0, 0)
    assert image.getpixel((2, 2)) == (127, 127, 127)


def test_byte_limit():
    data = encode(red_blue(), "PNG")
    with pytest.raises(ImageRejected) as error:
        decode_image(data, max_bytes=len(data) - 1)
    assert error.value.reason == "too_large"
    assert decode_image(data, max_bytes=len(data)).size == (40, 20)


def test_pixel_limit():
    data = encode(red_blue(100, 100), "PNG")
    with pytest.raises(ImageRejected) as error:
        decode_image(data, max_pixels=9_999)
    assert error.value.reason == "too_many_pixels"
    assert decode_image(data, max_pixels=10_000).size == (100, 100)


@pytest.mark.parametrize("pillow_limit", [6_000, 4_000])  # warning band, then hard error
def test_decompression_bomb_is_rejected(monkeypatch, pillow_limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    data = encode(red_blue(100, 100), "PNG")
    with pytest.raises(ImageRejected) as error:
        decode_image(data)
    assert error.value.reason == "decompression_bomb"


def test_truncated_file_is_rejected():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=95)
    with pytest.raises(ImageRejected) as error:
        decode_image(data[: len(data) // 2])
    assert error.value.reason == "truncated"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encode(red_blue(), "GIF"), "unsupported_format"),
        (encode(red_blue(), "BMP"), "unsupported_format"),
        (encode(red_blue(), "TIFF"), "unsupported_format"),
        (b"%PDF-1.4 not an image at all", "not_an_image"),
        (b"", "empty"),
    ],
)
def test_other_formats_and_non_images_are_rejected(data, reason):
    with pytest.raises(ImageRejected) as error:
        decode_image(data)
    assert error.value.reason == reason


@pytest.mark.parametrize("mode", ["pad", "crop"])
def test_preprocess_bytes_gives_a_normalised_square_tensor(mode):
    tensor = preprocess_bytes(
        encode(red_blue(50, 30), "PNG"), size=24, mode=mode, mean=(0.5,) * 3, std=(0.5,) * 3
    )
    assert tensor.shape == (3, 24, 24)
    assert tensor.dtype == torch.float32
    # pure red pixel: (1 - 0.5) / 0.5 = 1 in R, (0 - 0.5) / 0.5 = -1 in G and B
    assert torch.allclose(tensor[:, 12, 2], torch.tensor([1.0, -1.0, -1.0]))
    if mode == "pad":
        # white padding above the 24x14 letterboxed image
        assert torch.allclose(tensor[:, 0, 12], torch.ones(3))


def test_to_tensor_of_white_is_exact():
    tensor = to_tensor(Image.new("RGB", (4, 4), "white"), mean=(0.5,) * 3, std=(0.25,) * 3)
    assert torch.equal(tensor, torch.full((3, 4, 4), 2.0))


def test_augmenter_is_seeded_and_sized():
    image = red_blue(50, 30)
    augmenter = Augmenter(size=32)
    first = augmenter(image, torch.Generator().manual_seed(3))
    again = augmenter(image, torch.Generator().manual_seed(3))
    other = augmenter(image, torch.Generator().manual_seed(4))
    assert first.size == (32, 32)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_augment_batch_shifts_within_bounds_and_is_seeded():
    batch = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    first = augment_batch(batch, torch.Generator().manual_seed(0))
    again = augment_batch(batch, torch.Generator().manual_seed(0))
    assert first.shape == batch.shape
    assert torch.equal(first, again)
