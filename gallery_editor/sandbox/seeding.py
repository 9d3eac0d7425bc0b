"""Deterministic sandbox catalog: 250 products whose content, not shape, depends on the seed."""

from __future__ import annotations

import logging
import mimetypes
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gallery_editor.sandbox.pictures import (
    BIG_PHOTO_SIZE,
    PICTURE_FORMATS,
    PictureSpec,
    random_picture_spec,
)
from gallery_editor.sandbox.records import ImageRecord, ProductRecord

logger = logging.getLogger(__name__)

PRODUCT_COUNT = 250

# List index of each well-known product. The positions spread them over the three pages of
# 100 and do not depend on the seed.
WELL_KNOWN_INDEXES = {
    0: "ten",
    7: "ties",
    42: "awkward",
    101: "sixty",
    180: "empty",
    230: "two_hundred",
}

TAX_CODES = (
    "saas",
    "saas_business",
    "software",
    "videocontent",
    "informationservice",
    "ebook",
    "digitalgraphic",
    "videogame",
    "eservice",
    "training",
)

# Distinct pictures behind the images of the many-images product.
MANY_IMAGES_PICTURES = 6

_ADJECTIVES = (
    "Aurora",
    "Nordic",
    "Coastal",
    "Urban",
    "Classic",
    "Vintage",
    "Alpine",
    "Solar",
    "Velvet",
    "Granite",
    "Harbor",
    "Meadow",
    "Ember",
    "Lunar",
    "Cedar",
    "Indigo",
    "Copper",
    "Misty",
)
_MATERIALS = (
    "Oak",
    "Ceramic",
    "Linen",
    "Steel",
    "Bamboo",
    "Glass",
    "Leather",
    "Wool",
    "Cotton",
    "Walnut",
    "Marble",
    "Canvas",
    "Cork",
    "Brass",
)
_NOUNS = (
    "Desk Lamp",
    "Coffee Mug",
    "Backpack",
    "Water Bottle",
    "Notebook",
    "Candle",
    "Planter",
    "Headphones",
    "Tote Bag",
    "Wall Clock",
    "Cutting Board",
    "Scarf",
    "Phone Stand",
    "Bookend",
    "Tea Set",
    "Pencil Case",
    "Throw Pillow",
    "Serving Bowl",
)
_VIEWS = (
    "Front view",
    "Back view",
    "Side view",
    "Top view",
    "Detail",
    "Close-up",
    "In use",
    "Packaging",
    "Lifestyle",
    "Colour swatch",
    "Size guide",
    "Studio shot",
)
_ORIGINS = ("Hand-finished", "Designed in-house", "Sustainably sourced", "Limited run")
_PERKS = (
    "ships in two days",
    "comes gift-wrapped",
    "has a two-year warranty",
    "is dishwasher safe",
)
_CREATORS = (
    "Ana Souza",
    "Ben Okafor",
    "Chloé Martin",
    "Dev Patel",
    "Eva Lindqvist",
    "Farid Haddad",
)
_LONG_WORDS = (
    "Extended",
    "description",
    "of",
    "the",
    "product",
    "photo",
    "taken",
    "in",
    "the",
    "studio",
    "with",
    "natural",
    "light",
    "and",
    "a",
    "white",
    "background",
)


def build_seeded_catalog(seed: int) -> tuple[list[ProductRecord], dict[str, str]]:
    """Build the 250 seeded products in list order and the ids of the well-known ones."""
    rng = random.Random(seed)
    builder = _Builder(seed, rng)
    products: list[ProductRecord] = []
    well_known: dict[str, str] = {}
    for index in range(PRODUCT_COUNT):
        shape = WELL_KNOWN_INDEXES.get(index)
        product = builder.new_product(index)
        if shape is None:
            builder.add_random_images(product)
        else:
            builder.add_well_known_images(product, shape)
            well_known[shape] = product.id
        products.append(product)
    return products, well_known


def build_images_dir_product(seed: int, directory: Path) -> ProductRecord:
    """Build a product of one image per regular, non-hidden file of ``directory``, by name."""
    rng = random.Random(f"{seed}:images_dir")
    builder = _Builder(seed, rng)
    product = builder.new_product(-1, name=f"Local images ({directory.name})")
    files = sorted(
        path for path in directory.iterdir() if path.is_file() and not path.name.startswith(".")
    )
    for position, path in enumerate(files):
        file_rng = random.Random(f"{seed}:images_dir:{path.name}")
        guessed_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        picture = PictureSpec(kind="file", path=str(path.resolve()), label=guessed_type)
        product.images.append(
            ImageRecord(
                id=_uuid(file_rng),
                name=path.name,
                file_name=path.name,
                ordering=position,
                thumbnail=position == 0,
                enabled=True,
                sequence=builder.next_sequence(),
                picture=picture,
            )
        )
    logger.info(
        "Sandbox images_dir product %s has %d files from %s", product.id, len(files), directory
    )
    return product


def build_big_photos_product(seed: int, count: int) -> ProductRecord:
    """Build a product of ``count`` camera-size JPEG photos (drawn on first request)."""
    rng = random.Random(f"{seed}:big_photos")
    builder = _Builder(seed, rng)
    product = builder.new_product(-1, name="Large camera photos")
    width, height = BIG_PHOTO_SIZE
    for position in range(count):
        image_id = _uuid(rng)
        picture = PictureSpec(kind="big_photo", source=image_id, width=width, height=height)
        file_name = f"DSC_{position + 1:04d}.JPG"
        product.images.append(
            builder.make_image(
                image_id, file_name, file_name, position, picture, thumbnail=position == 0
            )
        )
    return product


def build_many_images_product(seed: int, count: int) -> ProductRecord:
    """Build a product of ``count`` images that reuse a few pictures under distinct URLs."""
    rng = random.Random(f"{seed}:many_images")
    builder = _Builder(seed, rng)
    product = builder.new_product(-1, name="Product with many images")
    shared_pictures = [
        random_picture_spec(rng, f"many_images:{variant}", f"Picture {variant + 1}")
        for variant in range(MANY_IMAGES_PICTURES)
    ]
    for position in range(count):
        picture = shared_pictures[position % MANY_IMAGES_PICTURES]
        extension = PICTURE_FORMATS[picture.format]
        product.images.append(
            builder.make_image(
                _uuid(rng),
                f"Image {position + 1}",
                f"image-{position + 1}.{extension}",
                position,
                picture,
                thumbnail=position == 0,
            )
        )
    return product


def new_image_id() -> str:
    """Return a random id for an image added while the sandbox runs."""
    return str(uuid.uuid4())


def slugify(text: str) -> str:
    """Return a lowercase URL-safe slug of ``text`` (ASCII letters, digits and dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "item"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Builder:
    """Draws product and image content from one seeded random generator."""

    def __init__(self, seed: int, rng: random.Random) -> None:
        self._seed = seed
        self._rng = rng
        self._sequence = 0
        self._identifiers: set[str] = set()
        self._epoch = datetime(2026, 6, 1, tzinfo=UTC)

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def new_product(self, index: int, name: str | None = None) -> ProductRecord:
        rng = self._rng
        product_id = _uuid(rng)
        if name is None:
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_MATERIALS)} {rng.choice(_NOUNS)}"
        identifier = self._unique_identifier(slugify(name))
        modified = self._epoch - timedelta(
            seconds=rng.randint(0, 180 * 86400), microseconds=index + 1
        )
        plans = [
            f"{identifier}-{period}"
            for period in rng.sample(("monthly", "yearly", "lifetime"), rng.randint(0, 2))
        ]
        return ProductRecord(
            id=product_id,
            identifier=identifier,
            name=name,
            description=self._description(name),
            tax_code=rng.choice(TAX_CODES),
            created_by=rng.choice(_CREATORS),
            modified_on=modified.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            plans=plans,
        )

    def add_random_images(self, product: ProductRecord) -> None:
        rng = self._rng
        count = rng.randint(1, 12)
        orderings = _random_orderings(rng, count)
        if rng.random() < 0.3:
            # Images created in one order and rearranged later, as in a gallery that was edited.
            rng.shuffle(orderings)
        thumbnail = _random_thumbnail(rng, orderings)
        for position in range(count):
            enabled = rng.random() >= 0.12
            name = self._image_name(position)
            self._add_generated_image(
                product, position, orderings[position], position == thumbnail, enabled, name
            )

    def add_well_known_images(self, product: ProductRecord, shape: str) -> None:
        """Add the images of a well-known product; their number, orderings and flags never vary."""
        if shape == "awkward":
            for position, name in enumerate(self._awkward_names()):
                self._add_generated_image(
                    product, position, position + 1, position == 3, True, name
                )
            return
        for position, ordering, thumbnail, enabled in _well_known_layout(shape):
            self._add_generated_image(
                product, position, ordering, thumbnail, enabled, self._image_name(position)
            )

    def make_image(
        self,
        image_id: str,
        name: str | None,
        file_name: str,
        ordering: int,
        picture: PictureSpec,
        *,
        thumbnail: bool = False,
        enabled: bool = True,
        absolute_url: bool = False,
    ) -> ImageRecord:
        return ImageRecord(
            id=image_id,
            name=name,
            file_name=file_name,
            ordering=ordering,
            thumbnail=thumbnail,
            enabled=enabled,
            sequence=self.next_sequence(),
            picture=picture,
            absolute_url=absolute_url,
        )

    def _add_generated_image(
        self,
        product: ProductRecord,
        position: int,
        ordering: int,
        thumbnail: bool,
        enabled: bool,
        name: str | None,
    ) -> None:
        rng = self._rng
        image_id = _uuid(rng)
        label = f"#{position + 1} {product.name}"
        picture = random_picture_spec(rng, image_id, label)
        extension = PICTURE_FORMATS[picture.format]
        # Long awkward names get a short file name, as an upload would have had.
        file_name = f"{slugify(name or 'image')[:60].strip('-')}-{position + 1}.{extension}"
        absolute = rng.random() < 0.35
        product.images.append(
            self.make_image(
                image_id,
                name,
                file_name,
                ordering,
                picture,
                thumbnail=thumbnail,
                enabled=enabled,
                absolute_url=absolute,
            )
        )

    def _image_name(self, position: int) -> str:
        rng = self._rng
        style = rng.random()
        if style < 0.6:
            return rng.choice(_VIEWS) if position else "Main photo"
        if style < 0.85:
            return f"IMG_{rng.randint(1000, 9999)}.jpg"
        return f"{rng.choice(_VIEWS)} {position + 1}"

    def _awkward_names(self) -> list[str | None]:
        rng = self._rng
        long_name = " ".join(rng.choice(_LONG_WORDS) for _ in range(60))
        return [
            None,
            long_name[:300],
            f"  {rng.choice(_VIEWS)}  ",
            f"{rng.choice(_VIEWS)}   ",
            f"\t{rng.choice(_VIEWS)}",
            None,
            (long_name + " ") * 4,
            "Détail – taille M ✓",
        ]

    def _description(self, name: str) -> str:
        rng = self._rng
        origin = rng.choice(_ORIGINS)
        perk = rng.choice(_PERKS)
        return f"The {name} is made to last. {origin}, {perk}."

    def _unique_identifier(self, slug: str) -> str:
        identifier = slug
        suffix = 2
        while identifier in self._identifiers:
            identifier = f"{slug}-{suffix}"
            suffix += 1
        self._identifiers.add(identifier)
        return identifier


def _well_known_layout(shape: str) -> list[tuple[int, int, bool, bool]]:
    """Return (position, ordering, thumbnail, enabled) of each image of a well-known product."""
    if shape == "ten":
        return [(position, position, position == 0, position != 6) for position in range(10)]
    if shape == "sixty":
        # Orderings 10, 20, ... 600 leave gaps, and every 13th image is disabled.
        return [
            (position, (position + 1) * 10, position == 0, position % 13 != 12)
            for position in range(60)
        ]
    if shape == "two_hundred":
        # Orderings 1..200, as galleries numbered from 1 are: room for one image below.
        return [(position, position + 1, position == 0, True) for position in range(200)]
    if shape == "ties":
        return [
            (position, ordering, position == 2, True)
            for position, ordering in enumerate((0, 0, 0, 0, 1, 1))
        ]
    return []


def _random_orderings(rng: random.Random, count: int) -> list[int]:
    pattern = rng.choices(
        ("dense_from_0", "dense_from_1", "gaps", "irregular"), weights=(45, 25, 20, 10)
    )[0]
    if pattern == "dense_from_0":
        return list(range(count))
    if pattern == "dense_from_1":
        return list(range(1, count + 1))
    if pattern == "gaps":
        step = rng.choice((2, 5, 10, 100))
        start = rng.choice((0, step))
        return [start + position * step for position in range(count)]
    orderings = []
    value = rng.randint(0, 3)
    for _ in range(count):
        orderings.append(value)
        value += rng.randint(1, 7)
    return orderings


def _random_thumbnail(rng: random.Random, orderings: list[int]) -> int | None:
    """Return the creation index of the thumbnail image, or None for a product without one."""
    if rng.random() < 0.15:
        return None
    if rng.random() < 0.6:
        return orderings.index(min(orderings))
    return rng.randrange(len(orderings))
