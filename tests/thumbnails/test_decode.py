"""Tests of decode_thumbnail on generated images: limits, modes, orientation, colour, failures."""

from __future__ import annotations

import io
import struct
import warnings

import pytest
from PIL import Image
from thumbnail_support import make_jpeg, make_png

from gallery_editor.thumbnails.decode import DecodedThumbnail, DecodeError, decode_thumbnail


def pixel(thumbnail: DecodedThumbnail, x: int, y: int) -> tuple[int, int, int, int]:
    offset = (y * thumbnail.width + x) * 4
    red, green, blue, alpha = thumbnail.rgba[offset : offset + 4]
    return red, green, blue, alpha


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!DOCTYPE html><html><body>Not found</body></html>",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        b"\x00" * 512,
    ],
    ids=["empty", "html", "pdf", "svg", "zeros"],
)
def test_decode_rejects_non_images(data: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(data, 128)
    assert caught.value.reason == "not an image"


def test_decode_scales_longer_edge() -> None:
    thumbnail = decode_thumbnail(make_jpeg(1200, 800), 300)
    assert thumbnail.width == 300
    assert thumbnail.height == 200
    assert len(thumbnail.rgba) == 300 * 200 * 4
    assert (thumbnail.source_width, thumbnail.source_height) == (1200, 800)
    assert thumbnail.format == "JPEG"


def test_decode_keeps_small_images_unscaled() -> None:
    thumbnail = decode_thumbnail(make_jpeg(40, 30), 300)
    assert (thumbnail.width, thumbnail.height) == (40, 30)


def test_decode_uses_jpeg_draft_for_large_photos() -> None:
    thumbnail = decode_thumbnail(make_jpeg(4000, 3000), 512)
    assert thumbnail.draft_used
    assert (thumbnail.width, thumbnail.height) == (512, 384)
    assert (thumbnail.source_width, thumbnail.source_height) == (4000, 3000)


def test_decode_skips_draft_when_not_smaller() -> None:
    thumbnail = decode_thumbnail(make_jpeg(600, 400), 512)
    assert not thumbnail.draft_used
    assert thumbnail.width == 512


def test_decode_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = make_jpeg(800, 400, exif=exif.tobytes())
    thumbnail = decode_thumbnail(data, 200)
    assert (thumbnail.width, thumbnail.height) == (100, 200)
    assert (thumbnail.source_width, thumbnail.source_height) == (400, 800)


def test_decode_survives_broken_exif() -> None:
    broken_exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\xff\xff\x00\x00" + b"\xff" * 20
    thumbnail = decode_thumbnail(make_jpeg(300, 200, exif=broken_exif), 150)
    assert (thumbnail.width, thumbnail.height) == (150, 100)


def test_decode_enforces_own_pixel_cap() -> None:
    data = make_png(Image.new("1", (3000, 2000)))
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(data, 128, max_pixels=5_000_000)
    assert caught.value.reason == "too large: 3000x2000 pixels"


def test_decode_handles_bomb_warning_itself() -> None:
    # 100 megapixels is inside Pillow's DecompressionBombWarning band (89 to 179).
    data = make_png(Image.new("1", (10_000, 10_000)))
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        with pytest.raises(DecodeError) as caught:
            decode_thumbnail(data, 128)
    assert caught.value.reason == "too large: 10000x10000 pixels"
    assert [warning.category for warning in caught_warnings] == []


def test_decode_names_size_of_bomb_error() -> None:
    # 20000x10000 is past twice Pillow's limit, so Image.open raises DecompressionBombError.
    data = make_png(Image.new("1", (20_000, 10_000)))
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(data, 128)
    assert caught.value.reason == "too large: 20000x10000 pixels"


def test_decode_reports_truncated_jpeg() -> None:
    data = make_jpeg(400, 300)
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(data[: len(data) // 2], 128)
    assert caught.value.reason == "truncated file"


def test_decode_reports_corrupt_png_data() -> None:
    data = bytearray(make_png(Image.linear_gradient("L")))
    start = data.index(b"IDAT") + 8
    data[start : start + 40] = b"\x55" * 40
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(bytes(data), 128)
    assert caught.value.reason in ("corrupt data", "truncated file")


def test_decode_keeps_palette_transparency() -> None:
    image = Image.new("P", (20, 10), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (10, 0, 20, 10))
    data = make_png(image, transparency=0)
    thumbnail = decode_thumbnail(data, 64)
    assert pixel(thumbnail, 2, 5)[3] == 0
    assert pixel(thumbnail, 15, 5) == (0, 0, 255, 255)


def test_decode_keeps_grey_alpha() -> None:
    image = Image.new("LA", (10, 10), (200, 128))
    thumbnail = decode_thumbnail(make_png(image), 64)
    assert pixel(thumbnail, 5, 5) == (200, 200, 200, 128)


def test_decode_scales_16_bit_grey() -> None:
    image = Image.new("I;16", (2, 1))
    image.putpixel((0, 0), 65535)
    image.putpixel((1, 0), 32896)
    thumbnail = decode_thumbnail(make_png(image), 64)
    assert pixel(thumbnail, 0, 0) == (255, 255, 255, 255)
    assert pixel(thumbnail, 1, 0) == (128, 128, 128, 255)


def test_decode_converts_one_bit_images() -> None:
    image = Image.new("1", (8, 8), 1)
    image.putpixel((0, 0), 0)
    thumbnail = decode_thumbnail(make_png(image), 64)
    assert pixel(thumbnail, 0, 0) == (0, 0, 0, 255)
    assert pixel(thumbnail, 4, 4) == (255, 255, 255, 255)


def test_decode_converts_cmyk_jpeg() -> None:
    buffer = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(buffer, "JPEG", quality=95)
    thumbnail = decode_thumbnail(buffer.getvalue(), 32)
    red, green, blue, alpha = pixel(thumbnail, 16, 16)
    assert red > 200
    assert green < 60
    assert blue < 60
    assert alpha == 255


def test_decode_ignores_unusable_icc_profile() -> None:
    data = make_jpeg(200, 100, icc_profile=b"not a colour profile at all")
    thumbnail = decode_thumbnail(data, 100)
    assert (thumbnail.width, thumbnail.height) == (100, 50)


def test_decode_takes_first_animation_frame() -> None:
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "lime", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    thumbnail = decode_thumbnail(buffer.getvalue(), 64)
    assert pixel(thumbnail, 5, 5) == (255, 0, 0, 255)


def test_decode_rejects_zero_edge() -> None:
    with pytest.raises(ValueError, match="edge"):
        decode_thumbnail(make_jpeg(10, 10), 0)


def test_decode_maps_struct_errors() -> None:
    # A BMP header that declares a size but ends before the pixel array.
    header = b"BM" + struct.pack("<IHHI", 70, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 4, 4, 1, 24, 0, 16, 0, 0, 0, 0)
    with pytest.raises(DecodeError) as caught:
        decode_thumbnail(header + info, 16)
    assert caught.value.reason in ("truncated file", "corrupt data")
