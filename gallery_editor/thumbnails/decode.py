"""Decode untrusted image bytes into a small RGBA thumbnail with Pillow, with guards."""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

# The app's own pixel limit, checked from the header before any pixel is decoded.
# It is below Pillow's DecompressionBombWarning band (about 89 megapixels), so a
# 64-megapixel RGBA image (256 MB) is the most a decode can allocate before resizing.
DEFAULT_MAX_PIXELS = 64_000_000

# Formats with a pure Pillow or bundled-library decoder. EPS is left out because
# Pillow runs Ghostscript to load it, and no file from a CDN should start a program.
ALLOWED_FORMATS = (
    "JPEG",
    "PNG",
    "GIF",
    "WEBP",
    "AVIF",
    "TIFF",
    "BMP",
    "DIB",
    "ICO",
    "PSD",
    "JPEG2000",
    "PPM",
    "TGA",
    "QOI",
    "FLI",
    "PCX",
    "SGI",
    "DDS",
)

# Modes that Image.resize and ImageCms handle directly at 8 bits per channel.
_RESIZABLE_MODES = ("RGB", "RGBA", "L", "LA", "CMYK")


class DecodeError(Exception):
    """An image could not be turned into a thumbnail; ``reason`` is short text for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DecodedThumbnail:
    """A thumbnail as tightly packed RGBA8888 with straight alpha, and facts about its source."""

    width: int
    height: int
    rgba: bytes
    source_width: int
    source_height: int
    format: str
    draft_used: bool


def decode_thumbnail(
    data: bytes, edge: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedThumbnail:
    """Decode ``data`` and scale it so its longer edge is at most ``edge`` pixels.

    Raises ``DecodeError`` for anything that does not give a thumbnail, whatever
    exception Pillow or a codec raised.
    """
    if edge < 1:
        raise ValueError(f"thumbnail edge must be at least 1 pixel, got {edge}")
    if not data:
        raise DecodeError("not an image")
    # Pillow reports oddities (broken EXIF, palette transparency, large images) as
    # warnings. They are recorded here so none escapes as an error in a caller
    # that turns warnings into errors; the pixel limit below replaces Pillow's
    # DecompressionBombWarning. catch_warnings() changes process-wide state, so this
    # function is meant to run in a single-threaded decode worker process, and the
    # loader therefore decodes every file in its worker processes, never in threads.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _decode_guarded(data, edge, max_pixels)
        finally:
            _log_warnings(caught)


def _log_warnings(caught: list[warnings.WarningMessage]) -> None:
    for message in caught:
        logger.debug("Pillow warning while decoding: %s: %s", message.category.__name__, message.message)


def _decode_guarded(data: bytes, edge: int, max_pixels: int) -> DecodedThumbnail:
    try:
        return _decode(data, edge, max_pixels)
    except DecodeError:
        raise
    except Image.DecompressionBombError as error:
        raise DecodeError(_too_large_reason(data, error)) from error
    except UnidentifiedImageError as error:
        raise DecodeError("not an image") from error
    except (EOFError, struct.error) as error:
        raise DecodeError("truncated file") from error
    except MemoryError as error:
        raise DecodeError("too large to decode (out of memory)") from error
    except OSError as error:
        raise DecodeError(_os_error_reason(error)) from error
    except (SyntaxError, ValueError, zlib.error) as error:
        logger.debug("Decoder rejected the data: %r", error)
        raise DecodeError("corrupt data") from error
    except Exception as error:  # noqa: BLE001
        # Fuzzed files reach code paths in Pillow's plugins that raise IndexError,
        # KeyError, TypeError, ZeroDivisionError and others. Any of them means the
        # file is broken, and none may end the worker.
        logger.warning("Unexpected %s while decoding an image: %s", type(error).__name__, error)
        raise DecodeError("corrupt data") from error


def _os_error_reason(error: OSError) -> str:
    text = str(error).lower()
    if "truncated" in text:
        return "truncated file"
    if "not available" in text or "unsupported" in text:
        return "unsupported image variant"
    return "corrupt data"


def _too_large_reason(data: bytes, error: Image.DecompressionBombError) -> str:
    size = _header_size(data)
    if size is not None:
        return f"too large: {size[0]}x{size[1]} pixels"
    # Pillow's message names the pixel count: "Image size (N pixels) exceeds limit ...".
    match = re.search(r"\((\d+) pixels\)", str(error))
    if match:
        return f"too large: {int(match.group(1))} pixels"
    return "too large: exceeds the pixel limit"


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Read the declared size with the format plugin alone, without Pillow's bomb check.

    Only the header is parsed and nothing is decoded, so this is safe for a file
    that Image.open rejected as too large. It serves the error message only.
    """
    for format_id in ALLOWED_FORMATS:
        if format_id not in Image.OPEN:
            continue
        factory, accept = Image.OPEN[format_id]
        try:
            if accept is not None and not accept(data[:16]):
                continue
            header = factory(io.BytesIO(data), None)
            return header.size
        except Exception:  # noqa: BLE001 - any failure only costs the size in a message
            continue
    return None


def _decode(data: bytes, edge: int, max_pixels: int) -> DecodedThumbnail:
    with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
        return _decode_open_image(image, edge, max_pixels)


def _decode_open_image(image: Image.Image, edge: int, max_pixels: int) -> DecodedThumbnail:
    source_format = image.format or "unknown"
    source_width, source_height = image.size
    if source_width * source_height > max_pixels:
        raise DecodeError(f"too large: {source_width}x{source_height} pixels")
    if source_width < 1 or source_height < 1:
        raise DecodeError("corrupt data")

    draft_used = _apply_draft(image, edge)
    image.load()
    icc_profile = image.info.get("icc_profile")
    if _apply_orientation(image):
        source_width, source_height = source_height, source_width

    pixels = _to_resizable_mode(image)
    pixels = _resize(pixels, edge)
    rgba = _to_srgb_rgba(pixels, icc_profile)
    return DecodedThumbnail(
        width=rgba.width,
        height=rgba.height,
        rgba=rgba.tobytes(),
        source_width=source_width,
        source_height=source_height,
        format=source_format,
        draft_used=draft_used,
    )


def _apply_draft(image: Image.Image, edge: int) -> bool:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the thumbnail is that much smaller."""
    if image.format not in ("JPEG", "MPO"):
        return False
    size_before = image.size
    # draft() keeps both sides at least as large as the box, so an (edge, edge)
    # box leaves the longer side >= edge whichever way the photo is oriented.
    image.draft(None, (edge, edge))
    return image.size != size_before


def _apply_orientation(image: Image.Image) -> bool:
    """Turn the image upright as its EXIF or XMP orientation tag gives; True if width and height swapped.

    For TIFF, Pillow already reports the displayed size at open and rotates inside
    load(), so nothing is left to do here for that format.
    """
    size_before = image.size
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception as error:  # noqa: BLE001
        # Broken EXIF (bad offsets, wrong types) must not cost the thumbnail,
        # so the image is kept as stored.
        logger.debug("Ignoring unreadable EXIF orientation: %r", error)
        return False
    return image.size != size_before


def _to_resizable_mode(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode into one of RGB, RGBA, L, LA or CMYK, keeping transparency."""
    mode = image.mode
    if mode in _RESIZABLE_MODES:
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode in ("La", "RGBa"):
        return image.convert("LA" if mode == "La" else "RGBA")
    if mode.startswith("I") or mode == "F":
        return _scale_to_8_bit(image)
    if mode == "LAB":
        return _lab_to_rgb(image)
    return image.convert("RGBA" if "A" in mode else "RGB")


def _scale_to_8_bit(image: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit integer and float grey levels onto 0..255."""
    if image.mode.startswith("I;16"):
        image = image.convert("I")
        low, high = 0.0, 65535.0
    else:
        if image.mode != "F":
            image = image.convert("I")
        low, high = _value_range(image)
    scale = 255.0 / (high - low) if high > low else 1.0
    offset = -low * scale
    # point() with a scale and offset runs in C for modes I and F.
    scaled = image.point(lambda value: value * scale + offset)
    return scaled.convert("L")


def _value_range(image: Image.Image) -> tuple[float, float]:
    """Return the range to map onto 0..255: 8-bit, 16-bit, unit float, or the actual extrema."""
    extrema = image.getextrema()
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type, index]
    if low >= 0.0 and high <= 1.0 and image.mode == "F":
        return 0.0, 1.0
    if low >= 0.0 and high <= 255.0:
        return 0.0, 255.0
    if low >= 0.0 and high <= 65535.0:
        return 0.0, 65535.0
    return low, high


def _lab_to_rgb(image: Image.Image) -> Image.Image:
    lab_profile = ImageCms.createProfile("LAB")
    srgb_profile = ImageCms.createProfile("sRGB")
    transform = ImageCms.buildTransform(lab_profile, srgb_profile, "LAB", "RGB")
    converted = ImageCms.applyTransform(image, transform)
    assert converted is not None  # applyTransform returns None only with inPlace=True
    return converted


def _resize(image: Image.Image, edge: int) -> Image.Image:
    width, height = image.size
    longer = max(width, height)
    if longer <= edge:
        return image
    scale = edge / longer
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap lets Pillow first shrink by an integer factor with reduce(),
    # which is fast, and then finish with Lanczos over at most 3x the target size.
    # Pillow premultiplies alpha while resizing RGBA and LA.
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_srgb_rgba(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    converted = _apply_icc_profile(image, icc_profile) if icc_profile else None
    if converted is None:
        converted = image
    return converted if converted.mode == "RGBA" else converted.convert("RGBA")


def _apply_icc_profile(image: Image.Image, icc_profile: bytes) -> Image.Image | None:
    """Convert from the embedded profile to sRGB; None when the profile is unusable."""
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image
    if alpha is not None:
        colour = image.convert("RGB" if image.mode == "RGBA" else "L")
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        srgb_profile = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(
            colour, source_profile, srgb_profile, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as error:
        logger.debug("Ignoring unusable ICC profile (%d bytes): %s", len(icc_profile), error)
        return None
    if converted is None:
        return None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
