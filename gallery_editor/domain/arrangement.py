"""The arrangement document: a product's requested gallery as JSON, for ``export`` and ``apply``.

Shape::

    {"product": "<product id>",
     "images": [{"id": "...", "name": "...", "thumbnail": false, "enabled": true}, ...],
     "base": {"<image id>": {"name": null, "ordering": 0, "thumbnail": false,
                             "enabled": true}, ...}}

``images`` lists every image once in display order with its requested fields. ``base`` is
optional and records the server state that the arrangement was exported from, so that
``apply`` can tell the user's changes from changes made on the server since.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from gallery_editor.domain.gallery import InvalidName, validate_name
from gallery_editor.domain.models import Product, TargetImage

logger = logging.getLogger(__name__)

IMAGE_KEYS = ("id", "name", "thumbnail", "enabled")
BASE_KEYS = ("name", "ordering", "thumbnail", "enabled")
TOP_LEVEL_KEYS = ("product", "images", "base")
# Enough problems to fix a hand-edited file in one pass without flooding the terminal.
MAX_REPORTED_PROBLEMS = 20


class ArrangementError(ValueError):
    """An arrangement document that cannot be used, with each problem naming its JSON path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        listed = problems[:MAX_REPORTED_PROBLEMS]
        if len(problems) == 1:
            message = f"Invalid arrangement document: {problems[0]}"
        else:
            lines = "\n".join(f"  {problem}" for problem in listed)
            more = len(problems) - len(listed)
            tail = f"\n  ... and {more} more" if more else ""
            message = f"Invalid arrangement document ({len(problems)} problems):\n{lines}{tail}"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class BaseImage:
    """Server state of one image when the arrangement was exported."""

    name: str | None
    ordering: int
    thumbnail: bool
    enabled: bool


@dataclass(frozen=True, slots=True)
class Arrangement:
    """A product id, its images in the requested display order, and optionally the server state."""

    product_id: str
    images: tuple[TargetImage, ...]
    base: dict[str, BaseImage] | None = None


def arrangement_from_product(product: Product) -> Arrangement:
    """Build the arrangement of a product as the server shows it, with that state as base.

    ``base`` lists the images in display order, so a product rebuilt from it in that
    array order sorts the same way, ties included.
    """
    ordered = product.images_in_order()
    images = tuple(
        TargetImage(image.id, image.name, image.thumbnail, image.enabled) for image in ordered
    )
    base = {
        image.id: BaseImage(image.name, image.ordering, image.thumbnail, image.enabled)
        for image in ordered
    }
    return Arrangement(product.id, images, base)


def arrangement_to_json(arrangement: Arrangement) -> dict[str, object]:
    """Encode an arrangement as the JSON object that `parse_arrangement` reads back."""
    data: dict[str, object] = {
        "product": arrangement.product_id,
        "images": [
            {
                "id": image.id,
                "name": image.name,
                "thumbnail": image.thumbnail,
                "enabled": image.enabled,
            }
            for image in arrangement.images
        ],
    }
    if arrangement.base is not None:
        data["base"] = {
            image_id: {
                "name": base.name,
                "ordering": base.ordering,
                "thumbnail": base.thumbnail,
                "enabled": base.enabled,
            }
            for image_id, base in arrangement.base.items()
        }
    return data


def parse_arrangement(data: object) -> Arrangement:
    """Check and decode a parsed JSON arrangement document.

    Rules beyond the shape: image ids are unique and non-empty. The ids of ``images`` and
    ``base`` may differ, because the caller compares both with the live product and
    decides what an image left out of either means. A name that differs from its base
    name must be valid for the server: not blank, no control characters, at most 255
    characters. Surrounding whitespace of such a name is removed. Null is accepted only
    where the base name is null. An image without a base entry keeps its name exactly as
    written, because only the live product shows whether it changed, and `plan_patches`
    then checks it. At most one image may have ``thumbnail: true`` unless the base
    already stars them all.

    Raises ArrangementError listing every problem found, each with its JSON path.
    """
    parser = _Parser()
    arrangement = parser.parse(data)
    if parser.problems or arrangement is None:
        raise ArrangementError(parser.problems)
    logger.debug(
        "Parsed arrangement of product %s with %d images (base %s)",
        arrangement.product_id,
        len(arrangement.images),
        "present" if arrangement.base is not None else "absent",
    )
    return arrangement


def describe_json(value: object) -> str:
    """Describe a JSON value for an error message, quoting short scalars as JSON."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else f"{text[:57]}..."


class _Parser:
    """Decode one document while collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def parse(self, data: object) -> Arrangement | None:
        root = self._object(data, "document", TOP_LEVEL_KEYS, required=("product", "images"))
        if root is None:
            return None
        product_id = None
        if "product" in root:
            product_id = self._identifier(root["product"], "product")
        images = self._images(root["images"]) if "images" in root else None
        base = self._base(root.get("base"))
        if images is not None and base is not None:
            images = self._check_names(images, base)
        if images is not None:
            self._check_stars(images, base)
        if product_id is None or images is None or self.problems:
            return None
        return Arrangement(product_id, tuple(images), base)

    def _problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")

    def _object(
        self, value: object, path: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> Mapping[str, object] | None:
        if not isinstance(value, Mapping):
            self._problem(path, f"expected an object, got {describe_json(value)}")
            return None
        for key in required:
            if key not in value:
                self._problem(path, f'missing key "{key}"')
        for key in value:
            if key not in allowed:
                self._problem(
                    path, f"unknown key {describe_json(key)}, expected {', '.join(allowed)}"
                )
        return value

    def _identifier(self, value: object, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self._problem(path, f"expected a non-empty string, got {describe_json(value)}")
            return None
        return value

    def _boolean(self, value: object, path: str) -> bool | None:
        if not isinstance(value, bool):
            self._problem(path, f"expected true or false, got {describe_json(value)}")
            return None
        return value

    def _optional_text(self, value: object, path: str) -> str | None:
        if value is not None and not isinstance(value, str):
            self._problem(path, f"expected a string or null, got {describe_json(value)}")
            return None
        return value

    def _images(self, value: object) -> list[TargetImage] | None:
        if not isinstance(value, list):
            self._problem("images", f"expected an array, got {describe_json(value)}")
            return None
        images: list[TargetImage] = []
        first_path: dict[str, str] = {}
        for index, item in enumerate(value):
            path = f"images[{index}]"
            image = self._image(item, path)
            if image is None:
                continue
            if image.id in first_path:
                self._problem(
                    f"{path}.id",
                    f"duplicate image id {describe_json(image.id)}, "
                    f"also at {first_path[image.id]}",
                )
                continue
            first_path[image.id] = path
            images.append(image)
        return images

    def _image(self, item: object, path: str) -> TargetImage | None:
        fields = self._object(item, path, IMAGE_KEYS, required=IMAGE_KEYS)
        if fields is None or any(key not in fields for key in IMAGE_KEYS):
            return None
        problems_before = len(self.problems)
        image_id = self._identifier(fields["id"], f"{path}.id")
        name = self._optional_text(fields["name"], f"{path}.name")
        thumbnail = self._boolean(fields["thumbnail"], f"{path}.thumbnail")
        enabled = self._boolean(fields["enabled"], f"{path}.enabled")
        if len(self.problems) > problems_before or image_id is None:
            return None
        return TargetImage(image_id, name, bool(thumbnail), bool(enabled))

    def _base(self, value: object) -> dict[str, BaseImage] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self._problem("base", f"expected an object or null, got {describe_json(value)}")
            return None
        base: dict[str, BaseImage] = {}
        for image_id, item in value.items():
            path = f"base[{describe_json(image_id)}]"
            entry = self._base_image(item, path)
            if entry is not None:
                base[image_id] = entry
        return base

    def _base_image(self, item: object, path: str) -> BaseImage | None:
        fields = self._object(item, path, BASE_KEYS, required=BASE_KEYS)
        if fields is None or any(key not in fields for key in BASE_KEYS):
            return None
        problems_before = len(self.problems)
        name = self._optional_text(fields["name"], f"{path}.name")
        ordering = fields["ordering"]
        if isinstance(ordering, bool) or not isinstance(ordering, int):
            self._problem(
                f"{path}.ordering", f"expected an integer, got {describe_json(ordering)}"
            )
        thumbnail = self._boolean(fields["thumbnail"], f"{path}.thumbnail")
        enabled = self._boolean(fields["enabled"], f"{path}.enabled")
        if len(self.problems) > problems_before:
            return None
        return BaseImage(name, ordering, bool(thumbnail), bool(enabled))  # type: ignore[arg-type]

    def _check_names(
        self, images: list[TargetImage], base: dict[str, BaseImage]
    ) -> list[TargetImage]:
        checked = []
        for index, image in enumerate(images):
            if image.id not in base:
                checked.append(image)
                continue
            name = self._checked_name(image.name, base[image.id], f"images[{index}].name")
            checked.append(TargetImage(image.id, name, image.thumbnail, image.enabled))
        return checked

    def _checked_name(self, name: str | None, base: BaseImage, path: str) -> str | None:
        if name == base.name:
            return name
        if name is None:
            self._problem(
                path,
                f"expected a non-empty string, got null. The server name is "
                f"{describe_json(base.name)} and cannot be cleared, "
                "so keep it or enter a new name",
            )
            return None
        try:
            return validate_name(name)
        except InvalidName as error:
            self._problem(path, f"invalid name {describe_json(name)}: {error}")
            return name

    def _check_stars(self, images: list[TargetImage], base: dict[str, BaseImage] | None) -> None:
        starred = [image.id for image in images if image.thumbnail]
        if len(starred) < 2:
            return
        base_starred = {image_id for image_id, entry in (base or {}).items() if entry.thumbnail}
        if set(starred) <= base_starred:
            return
        self._problem(
            "images",
            f"{len(starred)} images have thumbnail true ({', '.join(starred)}), but starring an "
            "image clears every other star, so set thumbnail true on one image only",
        )
