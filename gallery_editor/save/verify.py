"""Read-back comparison: does the server show the intended gallery?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gallery_editor.domain.models import Product, TargetImage

COMPARED_FIELDS = ("name", "thumbnail", "enabled")


@dataclass(frozen=True)
class FieldDifference:
    """One field whose server value is not the intended one."""

    image_id: str
    field: str
    expected: object
    actual: object


@dataclass(frozen=True)
class Comparison:
    """Differences between the server's gallery and the target."""

    server_order: tuple[str, ...]
    target_order: tuple[str, ...]
    fields: list[FieldDifference] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def order_differs(self) -> bool:
        return self.server_order != self.target_order

    @property
    def matches(self) -> bool:
        return not self.order_differs and not self.fields and not self.missing and not self.extra

    @property
    def only_order_differs(self) -> bool:
        return self.order_differs and not self.fields and not self.missing and not self.extra


def compare(server: Product, target: Sequence[TargetImage]) -> Comparison:
    """Compare the server's display order (by ordering, then array index) and fields with `target`."""
    server_order = tuple(image.id for image in server.images_in_order())
    target_order = tuple(wanted.id for wanted in target)
    server_ids = set(server_order)
    target_ids = set(target_order)
    differences = []
    for wanted in target:
        image = server.image_by_id(wanted.id)
        if image is None:
            continue
        for name in COMPARED_FIELDS:
            expected = getattr(wanted, name)
            actual = getattr(image, name)
            if expected != actual:
                differences.append(FieldDifference(wanted.id, name, expected, actual))
    return Comparison(
        server_order=server_order,
        target_order=target_order,
        fields=differences,
        missing=[image_id for image_id in target_order if image_id not in server_ids],
        extra=[image_id for image_id in server_order if image_id not in target_ids],
    )


def describe_order(product: Product, order: Sequence[str]) -> str:
    """Return the order as a numbered list of image names, for messages."""
    names = []
    for position, image_id in enumerate(order, start=1):
        image = product.image_by_id(image_id)
        name = image.display_name if image is not None else image_id
        names.append(f"{position}. {name}")
    return ", ".join(names)
