"""In-memory image store that applies PATCH bodies under both readings of ``ordering``.

"value" semantics: ``ordering`` is a stored sort key, the images keep their array order
and the server sorts them by (``ordering``, array index). "position" semantics:
``ordering`` is a 0-based place, writing it moves the image there and shifts the others,
a value >= n puts the image last, and the server reports the values as 0..n-1.
Both reject what the API would reject, so a bad plan fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from gallery_editor.domain.models import EDITABLE_FIELDS, Product, ProductImage
from gallery_editor.domain.planner import Patch

Semantics = Literal["value", "position"]


class PatchRejected(ValueError):
    """A PATCH that the real API would reject with status 400 or 404."""


@dataclass
class _StoredImage:
    id: str
    name: str | None
    image: str
    ordering: int
    thumbnail: bool
    enabled: bool


class SimulatedServer:
    """The images of one product, changed by PATCH bodies one at a time."""

    def __init__(self, product: Product, semantics: Semantics = "value") -> None:
        self.semantics = semantics
        self._product = product
        if semantics == "position":
            # A position server has no ties or gaps: it reports the display order densely.
            source = product.images_in_order()
        else:
            source = list(product.images)
        self._images = [
            _StoredImage(
                image.id, image.name, image.image, image.ordering, image.thumbnail, image.enabled
            )
            for image in source
        ]
        self._by_id = {stored.id: stored for stored in self._images}
        if semantics == "position":
            self._renumber()

    def apply(self, image_id: str, body: dict[str, object]) -> None:
        """Apply one PATCH body, or raise PatchRejected without changing anything."""
        stored = self._find(image_id)
        self._validate(image_id, body)
        if "name" in body:
            stored.name = body["name"]  # type: ignore[assignment]
        if "enabled" in body:
            stored.enabled = body["enabled"]  # type: ignore[assignment]
        if "thumbnail" in body:
            self._set_thumbnail(stored, bool(body["thumbnail"]))
        if "ordering" in body:
            self._set_ordering(stored, body["ordering"])  # type: ignore[arg-type]

    def apply_all(self, patches: Iterable[Patch]) -> None:
        for patch in patches:
            self.apply(patch.image_id, patch.body)

    def product(self) -> Product:
        """Return the product as a GET would report it, images in array order."""
        images = tuple(
            ProductImage(
                stored.id,
                stored.name,
                stored.image,
                stored.ordering,
                stored.thumbnail,
                stored.enabled,
            )
            for stored in self._images
        )
        return replace(self._product, images=images)

    def display_order(self) -> list[str]:
        return [image.id for image in self.product().images_in_order()]

    def _find(self, image_id: str) -> _StoredImage:
        if image_id in self._by_id:
            return self._by_id[image_id]
        raise PatchRejected(f"404: image {image_id!r} is not in product {self._product.id}")

    def _validate(self, image_id: str, body: dict[str, object]) -> None:
        if not body:
            raise PatchRejected(f"400: empty body for image {image_id!r}")
        unknown = set(body) - set(EDITABLE_FIELDS)
        if unknown:
            raise PatchRejected(f"400: unknown fields {sorted(unknown)} for image {image_id!r}")
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not 1 <= len(name) <= 255:
                raise PatchRejected(f"400: invalid name {name!r} for image {image_id!r}")
        for flag in ("thumbnail", "enabled"):
            if flag in body and not isinstance(body[flag], bool):
                raise PatchRejected(f"400: {flag} {body[flag]!r} is not a boolean")
        if "ordering" in body:
            ordering = body["ordering"]
            if isinstance(ordering, bool) or not isinstance(ordering, int) or ordering < 0:
                raise PatchRejected(f"400: invalid ordering {ordering!r} for image {image_id!r}")

    def _set_thumbnail(self, stored: _StoredImage, thumbnail: bool) -> None:
        if thumbnail:
            # Starring an image clears the star of every other image of the product.
            for other in self._images:
                other.thumbnail = False
        stored.thumbnail = thumbnail

    def _set_ordering(self, stored: _StoredImage, ordering: int) -> None:
        if self.semantics == "value":
            stored.ordering = ordering
            return
        self._images.remove(stored)
        self._images.insert(min(ordering, len(self._images)), stored)
        self._renumber()

    def _renumber(self) -> None:
        for position, stored in enumerate(self._images):
            stored.ordering = position
