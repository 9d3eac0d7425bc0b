"""Deterministic product-shot and photo pictures drawn with Pillow for the sandbox media server."""

from __future__ import annotations

import colorsys
import io
import logging
import math
import random
import statistics
from dataclasses import asdict, dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, features

logger = logging.getLogger(__name__)

# Bump when the drawing changes, so ETags and disk caches of older pictures stop matching.
GENERATOR_VERSION = 1

PICTURE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# EXIF orientation values used by the generator, with the transpose that stores the pixels so
# that a viewer applying the tag (as ImageOps.exif_transpose does) shows the picture upright.
ORIENTATION_STORAGE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}
EXIF_ORIENTATION_TAG = 0x0112

BIG_PHOTO_SIZE = (4000, 3000)

SHAPES = ("ball", "box", "bottle", "mug", "pyramid", "gem", "star", "can")


@dataclass(frozen=True, slots=True)
class PictureSpec:
    """Recipe of one served picture: drawn from ``source``, or a file read byte for byte."""

    kind: str  # "generated", "big_photo" or "file"
    source: str = ""
    width: int = 0
    height: int = 0
    format: str = "JPEG"
    orientation: int = 1
    label: str = ""
    path: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PictureSpec:
        return cls(**data)  # type: ignore[arg-type]


def random_picture_spec(
    rng: random.Random, source: str, label: str, picture_format: str | None = None
) -> PictureSpec:
    """Pick size, aspect ratio, orientation and (if not given) format of a product shot."""
    if picture_format is None:
        picture_format = rng.choices(("JPEG", "PNG", "WEBP"), weights=(60, 25, 15))[0]
    width = rng.randint(600, 1600)
    aspect = rng.choice((1.0, 4 / 3, 3 / 4, 16 / 9, 2 / 3, 3 / 2))
    height = max(400, min(2000, round(width / aspect)))
    orientation = 1
    if picture_format == "JPEG" and rng.random() < 0.12:
        orientation = rng.choice((6, 8, 3))
    return PictureSpec(
        kind="generated",
        source=source,
        width=width,
        height=height,
        format=picture_format,
        orientation=orientation,
        label=label,
    )


def render_product_shot(seed: int, spec: PictureSpec) -> bytes:
    """Draw a product-shot-like picture for ``spec`` and encode it; same inputs give same bytes."""
    rng = random.Random(f"{seed}:{spec.source}")
    upright = _draw_scene(rng, spec.width, spec.height, spec.label)
    return _encode(upright, spec.format, spec.orientation)


def render_big_photo(seed: int, spec: PictureSpec) -> bytes:
    """Draw a 12-megapixel landscape with noise so that it compresses like a camera JPEG."""
    rng = random.Random(f"{seed}:{spec.source}")
    width, height = spec.width or BIG_PHOTO_SIZE[0], spec.height or BIG_PHOTO_SIZE[1]
    sketch = _draw_landscape(rng, (width // 8, height // 8))
    photo = sketch.resize((width, height), Image.Resampling.BICUBIC)
    photo = _add_sensor_noise(photo, rng)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Sandbox Optics"  # Make
    exif[0x0110] = "SX-12"  # Model
    photo.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _draw_scene(rng: random.Random, width: int, height: int, label: str) -> Image.Image:
    hue = rng.random()
    background = _vertical_gradient(
        (width, height), _pastel(hue, rng), _pastel((hue + 0.08) % 1.0, rng)
    )
    size = min(width, height)
    center_x = width // 2 + rng.randint(-width // 12, width // 12)
    base_y = height // 2 + size // 4
    object_size = int(size * rng.uniform(0.42, 0.6))
    _draw_shadow(background, center_x, base_y, object_size)
    colour = _object_colour(rng)
    shape = rng.choice(SHAPES)
    draw = ImageDraw.Draw(background)
    _draw_object(draw, shape, center_x, base_y, object_size, colour)
    if label:
        _draw_label(draw, label, width, height, colour)
    return background


def _pastel(hue: float, rng: random.Random) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue, rng.uniform(0.86, 0.95), rng.uniform(0.25, 0.55))
    return round(red * 255), round(green * 255), round(blue * 255)


def _object_colour(rng: random.Random) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(
        rng.random(), rng.uniform(0.3, 0.55), rng.uniform(0.5, 0.9)
    )
    return round(red * 255), round(green * 255), round(blue * 255)


def _vertical_gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    # A 1-pixel-wide gradient stretched by resize is far faster than drawing every row.
    column = Image.new("RGB", (1, 256))
    column.putdata(
        [
            tuple(round(a + (b - a) * row / 255) for a, b in zip(top, bottom, strict=True))
            for row in range(256)
        ]
    )
    return column.resize(size, Image.Resampling.BILINEAR)


def _draw_shadow(canvas: Image.Image, center_x: int, base_y: int, object_size: int) -> None:
    half_width = int(object_size * 0.55)
    half_height = max(4, object_size // 10)
    margin = half_height * 3
    box_width, box_height = 2 * (half_width + margin), 2 * (half_height + margin)
    # Blur only a small mask around the shadow so large pictures stay fast to draw.
    mask = Image.new("L", (box_width, box_height), 0)
    ImageDraw.Draw(mask).ellipse(
        (margin, margin, box_width - margin, box_height - margin), fill=110
    )
    mask = mask.filter(ImageFilter.GaussianBlur(half_height))
    shadow = Image.new("RGB", mask.size, (40, 40, 48))
    canvas.paste(shadow, (center_x - box_width // 2, base_y - box_height // 2), mask)


def _draw_object(
    draw: ImageDraw.ImageDraw,
    shape: str,
    center_x: int,
    base_y: int,
    size: int,
    colour: tuple[int, int, int],
) -> None:
    half = size // 2
    top = base_y - size
    outline = tuple(max(0, channel - 60) for channel in colour)
    highlight = tuple(min(255, channel + 70) for channel in colour)
    width = max(2, size // 60)
    if shape == "ball":
        draw.ellipse(
            (center_x - half, top, center_x + half, base_y),
            fill=colour,
            outline=outline,
            width=width,
        )
        draw.ellipse(
            (center_x - half // 2, top + half // 4, center_x - half // 6, top + half // 2),
            fill=highlight,
        )
    elif shape == "box":
        draw.rounded_rectangle(
            (center_x - half, top + size // 5, center_x + half, base_y),
            radius=size // 14,
            fill=colour,
            outline=outline,
            width=width,
        )
        draw.rectangle(
            (center_x - half // 8, top + size // 5, center_x + half // 8, base_y), fill=highlight
        )
    elif shape == "bottle":
        draw.rounded_rectangle(
            (center_x - half // 2, top + size // 3, center_x + half // 2, base_y),
            radius=size // 8,
            fill=colour,
            outline=outline,
            width=width,
        )
        draw.rectangle(
            (center_x - half // 6, top, center_x + half // 6, top + size // 3 + width), fill=colour
        )
        draw.rectangle(
            (
                center_x - half // 2 + width,
                top + size // 2,
                center_x + half // 2 - width,
                top + 2 * size // 3,
            ),
            fill=highlight,
        )
    elif shape == "mug":
        draw.ellipse(
            (center_x + half // 3, top + size // 3, center_x + half, top + 3 * size // 4),
            outline=colour,
            width=size // 12,
        )
        draw.rounded_rectangle(
            (center_x - half // 1.4, top + size // 4, center_x + half // 2, base_y),
            radius=size // 16,
            fill=colour,
            outline=outline,
            width=width,
        )
    elif shape == "pyramid":
        draw.polygon(
            [(center_x, top), (center_x + half, base_y), (center_x - half, base_y)],
            fill=colour,
            outline=outline,
        )
        draw.polygon(
            [(center_x, top), (center_x + half, base_y), (center_x + half // 5, base_y)],
            fill=outline,
        )
    elif shape == "gem":
        draw.polygon(
            [
                (center_x - half, top + size // 3),
                (center_x - half // 2, top),
                (center_x + half // 2, top),
                (center_x + half, top + size // 3),
                (center_x, base_y),
            ],
            fill=colour,
            outline=outline,
        )
        draw.line(
            [(center_x - half, top + size // 3), (center_x + half, top + size // 3)],
            fill=highlight,
            width=width,
        )
    elif shape == "star":
        points = []
        for step in range(10):
            radius = half if step % 2 == 0 else half * 0.45
            angle = math.pi / 2 + step * math.pi / 5
            points.append(
                (center_x + radius * math.cos(angle), base_y - half - radius * math.sin(angle))
            )
        draw.polygon(points, fill=colour, outline=outline)
    else:  # can
        draw.rectangle(
            (center_x - half // 2, top + size // 8, center_x + half // 2, base_y - size // 8),
            fill=colour,
        )
        draw.ellipse(
            (center_x - half // 2, base_y - size // 4, center_x + half // 2, base_y), fill=colour
        )
        draw.ellipse(
            (center_x - half // 2, top, center_x + half // 2, top + size // 4),
            fill=highlight,
            outline=outline,
            width=width,
        )


def _draw_label(
    draw: ImageDraw.ImageDraw, label: str, width: int, height: int, colour: tuple[int, int, int]
) -> None:
    font_size = max(18, min(width, height) // 14)
    font = _label_font(font_size)
    margin = font_size // 2
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    box = (
        margin,
        height - margin - (bottom - top) - margin,
        margin * 3 + right - left,
        height - margin,
    )
    draw.rounded_rectangle(box, radius=margin // 2, fill=(255, 255, 255))
    draw.text((box[0] + margin - left, box[1] + margin // 2 - top), label, fill=colour, font=font)


def _label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if features.check("freetype2"):
        return ImageFont.load_default(size=size)
    return ImageFont.load_default()


def _encode(upright: Image.Image, picture_format: str, orientation: int) -> bytes:
    buffer = io.BytesIO()
    if picture_format == "JPEG" and orientation in ORIENTATION_STORAGE:
        stored = upright.transpose(ORIENTATION_STORAGE[orientation])
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = orientation
        stored.save(buffer, "JPEG", quality=85, exif=exif.tobytes())
    elif picture_format == "JPEG":
        upright.save(buffer, "JPEG", quality=85)
    elif picture_format == "PNG":
        upright.save(buffer, "PNG", compress_level=3)
    else:
        upright.save(buffer, "WEBP", quality=80)
    return buffer.getvalue()


def _draw_landscape(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    width, height = size
    sky_hue = rng.uniform(0.52, 0.66)
    sky = _vertical_gradient(size, _hsl(sky_hue, 0.45, 0.6), _hsl(sky_hue + 0.05, 0.85, 0.3))
    draw = ImageDraw.Draw(sky)
    sun_x, sun_y, sun_radius = rng.randint(0, width), rng.randint(0, height // 3), width // 14
    draw.ellipse(
        (sun_x - sun_radius, sun_y - sun_radius, sun_x + sun_radius, sun_y + sun_radius),
        fill=(255, 244, 214),
    )
    for layer in range(4):
        horizon = height // 2 + layer * height // 10 + rng.randint(-height // 20, height // 20)
        colour = _hsl(rng.uniform(0.2, 0.4), 0.25 + layer * 0.08, 0.5 - layer * 0.1)
        points = [(0, height)]
        for x in range(0, width + 20, 20):
            points.append((x, horizon + int(rng.uniform(-1, 1) * height / (8 + layer * 4))))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    return sky.filter(ImageFilter.GaussianBlur(1.2))


def _hsl(hue: float, lightness: float, saturation: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def _add_sensor_noise(photo: Image.Image, rng: random.Random) -> Image.Image:
    # Image.effect_noise is seeded from the C library, not from rng, so the noise is drawn once
    # at small size from rng values and tiled: deterministic and still photo-like after JPEG.
    # Uniform random bytes pass through a table of the normal distribution's quantiles, which
    # is far faster than drawing each value with rng.gauss.
    tile_size = 256
    quantiles = statistics.NormalDist(128, 7)
    table = [max(0, min(255, round(quantiles.inv_cdf((level + 0.5) / 256)))) for level in range(256)]
    uniform = Image.frombytes("RGB", (tile_size, tile_size), rng.randbytes(tile_size * tile_size * 3))
    tile = uniform.point(table * 3)
    noise = Image.new("RGB", photo.size)
    for x in range(0, photo.width, tile_size):
        for y in range(0, photo.height, tile_size):
            noise.paste(tile, (x, y))
    return ImageChops.add(photo, noise, scale=1.0, offset=-128)
