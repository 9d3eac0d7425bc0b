"""Helpers shared by the sandbox tests: API paths and display order."""

from __future__ import annotations


def image_path(product_id: str, image_id: str) -> str:
    """Return the API path of one image, relative to the API base URL."""
    return f"catalog/products/{product_id}/image/{image_id}/"


def product_path(product_id: str) -> str:
    return f"catalog/products/{product_id}/"


def ordered_ids(product: dict[str, object]) -> list[str]:
    """Return image ids sorted by (ordering, index in the array), the display order."""
    images = list(enumerate(product["images"]))  # type: ignore[arg-type]
    images.sort(key=lambda pair: (pair[1]["ordering"], pair[0]))
    return [image["id"] for _, image in images]
