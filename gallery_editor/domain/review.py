"""Plain-words review of a gallery's pending changes, their reverts and customer-facing warnings."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from gallery_editor.domain.gallery import (
    FIELD_NAMES,
    Edit,
    FieldChange,
    FieldEdit,
    FieldName,
    Gallery,
    ImageFields,
    MoveEdit,
    quote,
)
from gallery_editor.domain.models import NO_NAME
from gallery_editor.domain.planner import plan_patches

logger = logging.getLogger(__name__)

# Kelviq's dashboard accepts at most this many images per product. The API's own cap is
# undocumented, so a larger gallery may still save.
DASHBOARD_IMAGE_LIMIT = 10

ChangeKind = Literal["move", "name", "thumbnail", "enabled", "server"]
RevertField = Literal["position", "name", "thumbnail", "enabled"]


@dataclass(frozen=True, slots=True)
class RevertTarget:
    """The part of one image that a change line reverts: its position or one field."""

    image_id: str
    field: RevertField


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One pending change of one image in plain words, with what reverting it touches.

    `revert` is None for lines the user cannot revert, such as server updates.
    """

    kind: ChangeKind
    text: str
    revert: RevertTarget | None


@dataclass(frozen=True, slots=True)
class ImageReview:
    """The pending changes of one image; `position` is its 1-based place in the working order."""

    image_id: str
    display_name: str
    changes: tuple[ChangeLine, ...]
    position: int


class ServerUpdateLike(Protocol):
    """A field that changed on the server, as the conflict merge reports it."""

    @property
    def image_id(self) -> str: ...

    @property
    def field(self) -> str: ...

    @property
    def old(self) -> object: ...

    @property
    def new(self) -> object: ...


# -- describing changes ---------------------------------------------------------------


def describe_changes(
    gallery: Gallery, server_updates: Iterable[ServerUpdateLike] = ()
) -> list[ImageReview]:
    """Describe every changed image in working order, one `ImageReview` each.

    Only images in `gallery.moved_image_ids()` get a move line, so neighbours that merely
    shifted are not listed. Server updates for images that are no longer in the gallery
    come last, under the name the update gives or the image id.
    """
    updates_by_image = _group_updates(server_updates)
    moved = gallery.moved_image_ids()
    changed = gallery.changed_field_ids()
    server_rows = {image_id: row for row, image_id in enumerate(gallery.server_order())}

    reviews: list[ImageReview] = []
    for row, image_id in enumerate(gallery.order):
        lines: list[ChangeLine] = []
        if image_id in moved:
            lines.append(_move_line(image_id, server_rows[image_id], row))
        if image_id in changed:
            lines.extend(_field_lines(gallery, image_id))
        lines.extend(describe_server_update(u) for u in updates_by_image.pop(image_id, []))
        if lines:
            name = gallery.fields(image_id).name
            reviews.append(ImageReview(image_id, _display(name), tuple(lines), row + 1))

    for image_id, updates in updates_by_image.items():
        logger.debug("Server updates for image %s, which the gallery does not have", image_id)
        lines = [describe_server_update(update) for update in updates]
        reviews.append(ImageReview(image_id, image_id, tuple(lines), 0))
    return reviews


def describe_server_update(update: ServerUpdateLike) -> ChangeLine:
    """Describe a field the server changed, such as "Updated on the server: name is now 'X'"."""
    return ChangeLine("server", f"Updated on the server: {_server_change_words(update)}", None)


def describe_value(field: str, value: object) -> str:
    """Describe one value of an image field in plain words, e.g. 'Front view' or hidden."""
    if field == "name":
        return quote(value if value is None else str(value))
    if field == "thumbnail":
        return "the thumbnail" if value else "not the thumbnail"
    if field == "enabled":
        return "shown" if value else "hidden"
    return str(value)


def _server_change_words(update: ServerUpdateLike) -> str:
    if update.field == "name":
        return f"name is now {describe_value('name', update.new)}"
    if update.field == "thumbnail":
        return "now the thumbnail" if update.new else "no longer the thumbnail"
    if update.field == "enabled":
        return "now shown" if update.new else "now hidden"
    if update.field in ("ordering", "order", "position"):
        return "its place in the order changed"
    return f"{update.field} is now {update.new!r}"


def _group_updates(updates: Iterable[ServerUpdateLike]) -> dict[str, list[ServerUpdateLike]]:
    grouped: dict[str, list[ServerUpdateLike]] = {}
    for update in updates:
        grouped.setdefault(update.image_id, []).append(update)
    return grouped


def _move_line(image_id: str, server_row: int, row: int) -> ChangeLine:
    text = f"Moved from position {server_row + 1} to {row + 1}"
    return ChangeLine("move", text, RevertTarget(image_id, "position"))


def _field_lines(gallery: Gallery, image_id: str) -> list[ChangeLine]:
    working = gallery.fields(image_id)
    server = ImageFields.of(gallery.server_image(image_id))
    lines: list[ChangeLine] = []
    for field in FIELD_NAMES:
        old, new = getattr(server, field), getattr(working, field)
        if old != new:
            revert = RevertTarget(image_id, field)
            lines.append(ChangeLine(field, _field_change_words(field, old, new), revert))
    return lines


def _field_change_words(field: FieldName, old: object, new: object) -> str:
    if field == "name":
        return f"Renamed {describe_value('name', old)} to {describe_value('name', new)}"
    if field == "thumbnail":
        return "Set as thumbnail" if new else "No longer the thumbnail"
    return "Shown" if new else "Hidden"


def _display(name: str | None) -> str:
    return NO_NAME if name is None else name


# -- reverting one change -------------------------------------------------------------


def revert_edit(gallery: Gallery, change: ChangeLine | RevertTarget) -> Edit | None:
    """Build the edit that reverts one change line, or None when there is nothing to revert.

    A field goes back to the server's value through `Gallery.make_field_revert`, except
    the thumbnail star, which goes back to the server's starred image as a whole. A moved
    image goes back among the images that kept their server order, at the place that
    matches its server position, so it no longer counts as moved.
    """
    target = change.revert if isinstance(change, ChangeLine) else change
    if target is None:
        return None
    if target.image_id not in gallery.order:
        logger.info("Cannot revert %s of image %s: it is no longer in the gallery",
                    target.field, target.image_id)
        return None
    if target.field == "position":
        return _revert_move(gallery, target.image_id)
    if target.field == "thumbnail":
        return _revert_star(gallery, target.image_id)
    return gallery.make_field_revert(target.image_id, target.field)


def _revert_star(gallery: Gallery, image_id: str) -> FieldEdit | None:
    # Only one image can be the thumbnail, so the star counts as one field of the gallery:
    # reverting "Set as thumbnail" gives the star back to the server's thumbnail instead
    # of leaving the product without one.
    if gallery.fields(image_id).thumbnail == gallery.server_image(image_id).thumbnail:
        return None
    changes = tuple(
        FieldChange(other, "thumbnail", working, server)
        for other in gallery.order
        for working, server in [
            (gallery.fields(other).thumbnail, gallery.server_image(other).thumbnail)
        ]
        if working != server
    )
    return FieldEdit("revert", changes, "Restore the server's thumbnail")


def _revert_move(gallery: Gallery, image_id: str) -> MoveEdit | None:
    if image_id not in gallery.moved_image_ids():
        return None
    others = [other for other in gallery.order if other != image_id]
    index = home_index(others, gallery.server_order(), image_id, gallery.moved_image_ids())
    current_row = gallery.row_of(image_id)
    # make_move counts its row in the current order, which still contains the image.
    destination = index if index <= current_row else index + 1
    edit = gallery.make_move([image_id], destination)
    if edit is None:
        return None
    text = f"Revert move of {quote(gallery.fields(image_id).name)}"
    # The image goes home rather than being moved by the user, so it must not count as a
    # user move when the gallery picks which images to report as moved.
    return replace(edit, moved_ids=(), text=text)


def home_index(
    others: Sequence[str], server_order: Sequence[str], image_id: str, moved: Iterable[str]
) -> int:
    """Return where `image_id` belongs in `others` so it sits in its server place again.

    The images of `others` that are not in `moved` are still in server order. The image
    goes between the two of them that surround it on the server, and within that gap just
    after the last image that comes before it on the server.
    """
    rank = {other: position for position, other in enumerate(server_order)}
    own_rank = rank[image_id]
    moved_ids = set(moved)
    anchors_before = [
        index for index, other in enumerate(others)
        if other not in moved_ids and rank[other] < own_rank
    ]
    anchors_after = [
        index for index, other in enumerate(others)
        if other not in moved_ids and rank[other] > own_rank
    ]
    low = anchors_before[-1] + 1 if anchors_before else 0
    high = anchors_after[0] if anchors_after else len(others)
    earlier_in_gap = [index for index in range(low, high) if rank[others[index]] < own_rank]
    return earlier_in_gap[-1] + 1 if earlier_in_gap else low


# -- warnings and request count -------------------------------------------------------


def warnings(gallery: Gallery) -> list[str]:
    """List what customers would notice about the gallery as it would be saved."""
    if len(gallery) == 0:
        return ["This product has no images, so customers see no gallery."]
    found: list[str] = []
    found.extend(_thumbnail_warnings(gallery))
    if not any(gallery.fields(image_id).enabled for image_id in gallery.order):
        found.append("Every image is hidden, so customers see no images; show at least one.")
    if len(gallery) > DASHBOARD_IMAGE_LIMIT:
        found.append(
            f"This product has {len(gallery)} images, but Kelviq's dashboard allows at "
            f"most {DASHBOARD_IMAGE_LIMIT}, so it cannot manage this gallery."
        )
    return found


def _thumbnail_warnings(gallery: Gallery) -> list[str]:
    starred = [image_id for image_id in gallery.order if gallery.fields(image_id).thumbnail]
    if not starred:
        return ["No image is the thumbnail; star one to give the product a thumbnail."]
    found: list[str] = []
    if len(starred) > 1:
        names = ", ".join(quote(gallery.fields(image_id).name) for image_id in starred)
        found.append(
            f"{len(starred)} images are marked as the thumbnail ({names}); "
            "star one of them to keep only that one."
        )
    for image_id in starred:
        if not gallery.fields(image_id).enabled:
            found.append(
                f"The thumbnail {quote(gallery.fields(image_id).name)} is hidden; "
                "show it or star an image that is shown."
            )
    return found


def patch_count(gallery: Gallery) -> int:
    """Count the PATCH requests a save of the gallery would send.

    Raises ValueError, with the planner's reason, when the working state cannot be saved.
    """
    return len(plan_patches(gallery.snapshot, gallery.target()))
