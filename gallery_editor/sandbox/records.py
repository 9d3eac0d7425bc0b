"""Mutable product and image records inside the sandbox catalog, and their JSON forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from gallery_editor.sandbox.pictures import PictureSpec


@dataclass(slots=True)
class ImageRecord:
    """One stored image; ``sequence`` is the creation order that breaks ``ordering`` ties."""

    id: str
    name: str | None
    file_name: str
    ordering: int
    thumbnail: bool
    enabled: bool
    sequence: int
    picture: PictureSpec
    absolute_url: bool = False

    def storage_key(self, product_id: str) -> str:
        """Return the CDN key such as ``media/products/<pid>/<iid>/front.jpg``."""
        return f"media/products/{product_id}/{self.id}/{quote(self.file_name)}"

    def to_api_json(self, product_id: str, media_url: str) -> dict[str, object]:
        key = self.storage_key(product_id)
        return {
            "id": self.id,
            "name": self.name,
            "image": media_url + key if self.absolute_url else key,
            "ordering": self.ordering,
            "thumbnail": self.thumbnail,
            "enabled": self.enabled,
        }

    def to_state_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "fileName": self.file_name,
            "ordering": self.ordering,
            "thumbnail": self.thumbnail,
            "enabled": self.enabled,
            "sequence": self.sequence,
            "absoluteUrl": self.absolute_url,
            "picture": self.picture.to_json(),
        }

    @classmethod
    def from_state_json(cls, data: dict[str, object]) -> ImageRecord:
        return cls(
            id=str(data["id"]),
            name=data["name"],  # type: ignore[arg-type]
            file_name=str(data["fileName"]),
            ordering=int(data["ordering"]),  # type: ignore[call-overload]
            thumbnail=bool(data["thumbnail"]),
            enabled=bool(data["enabled"]),
            sequence=int(data["sequence"]),  # type: ignore[call-overload]
            absolute_url=bool(data["absoluteUrl"]),
            picture=PictureSpec.from_json(data["picture"]),  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class ProductRecord:
    """One stored product; ``images`` are kept in creation order."""

    id: str
    identifier: str
    name: str
    description: str
    tax_code: str
    created_by: str
    modified_on: str
    plans: list[str] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)

    def images_in_order(self) -> list[ImageRecord]:
        """Images by (``ordering``, creation order): the order the API lists them in."""
        return sorted(self.images, key=lambda image: (image.ordering, image.sequence))

    def find_image(self, image_id: str) -> ImageRecord | None:
        for image in self.images:
            if image.id == image_id:
                return image
        return None

    def to_api_json(self, media_url: str, *, with_plans: bool) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "identifier": self.identifier,
            "name": self.name,
            "description": self.description,
            "taxCode": self.tax_code,
            "createdBy": self.created_by,
            "modifiedOn": self.modified_on,
            "images": [image.to_api_json(self.id, media_url) for image in self.images_in_order()],
        }
        if with_plans:
            data["plans"] = list(self.plans)
        return data

    def matches(self, search: str) -> bool:
        """Tell whether ``search`` occurs in the name, identifier or description, ignoring case."""
        needle = search.casefold()
        return any(
            needle in text.casefold() for text in (self.name, self.identifier, self.description)
        )
