"""Products for the review dock and conflict dialog tests."""

from __future__ import annotations

from gallery_editor.domain.models import Product, ProductImage


def make_product(
    count: int = 6,
    *,
    star: int | None = 1,
    hidden: tuple[int, ...] = (),
    names: dict[int, str] | None = None,
) -> Product:
    """Build a product whose image `i` (1-based) has id `str(i)` and ordering `10 * i`."""
    chosen = names or {}
    images = tuple(
        ProductImage(
            id=str(i),
            name=chosen.get(i, f"IMG_{i:04d}.jpg"),
            image=f"media/{i}.jpg",
            ordering=10 * i,
            thumbnail=i == star,
            enabled=i not in hidden,
        )
        for i in range(1, count + 1)
    )
    return Product("p1", "Walnut side table", images)
