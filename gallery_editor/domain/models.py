"""Immutable product and product-image records as the server reports them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

NO_NAME = "(no name)"

# Fields of an image that the user can edit and a PATCH can carry.
EDITABLE_FIELDS = ("name", "ordering", "thumbnail", "enabled")


@dataclass(frozen=True, slots=True)
class ProductImage:
    """One image of a product gallery."""

    id: str
    name: str | None
    image: str
    ordering: int
    thumbnail: bool
    enabled: bool

    @property
    def display_name(self) -> str:
        """The name to show, with a placeholder for a null name."""
        return self.name if self.name is not None else NO_NAME

    def with_changes(self, **changes: object) -> ProductImage:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Product:
    """A catalog product with its images in the order the server sent them."""

    id: str
    name: str
    images: tuple[ProductImage, ...] = ()
    identifier: str | None = None
    description: str | None = None
    tax_code: str | None = None
    created_by: str | None = None
    modified_on: str | None = None
    plans: tuple[str, ...] | None = field(default=None)

    def images_in_order(self) -> list[ProductImage]:
        """Images sorted by ``ordering``; ties keep the order the server sent."""
        # sorted() is stable, so equal orderings keep their array order.
        return sorted(self.images, key=lambda image: image.ordering)

    def image_by_id(self, image_id: str) -> ProductImage | None:
        for image in self.images:
            if image.id == image_id:
                return image
        return None

    def with_images(self, images: tuple[ProductImage, ...]) -> Product:
        return replace(self, images=images)


@dataclass(frozen=True, slots=True)
class TargetImage:
    """The state the user wants for one image; a list of these in display order is a target."""

    id: str
    name: str | None
    thumbnail: bool
    enabled: bool


def image_to_json(image: ProductImage) -> dict[str, object]:
    """Encode an image the way the Kelviq API does."""
    return {
        "id": image.id,
        "name": image.name,
        "image": image.image,
        "ordering": image.ordering,
        "thumbnail": image.thumbnail,
        "enabled": image.enabled,
    }


def product_to_json(product: Product) -> dict[str, object]:
    """Encode a product the way the Kelviq API does (camelCase keys)."""
    data: dict[str, object] = {"id": product.id, "name": product.name}
    optional = {
        "identifier": product.identifier,
        "description": product.description,
        "taxCode": product.tax_code,
        "createdBy": product.created_by,
        "modifiedOn": product.modified_on,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    data["images"] = [image_to_json(image) for image in product.images]
    if product.plans is not None:
        data["plans"] = list(product.plans)
    return data
