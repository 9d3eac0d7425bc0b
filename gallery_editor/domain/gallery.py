"""The gallery working copy: the server snapshot, the user's edits and their undo data.

A `Gallery` keeps the product as the server last reported it (the snapshot) next to the
working order and the working name, thumbnail and enabled flags of every image. Every
user action is an edit object (`MoveEdit` or `FieldEdit`) that the gallery builds,
validates and can apply and revert exactly, so an undo stack, the save planner and the
journal can all work on the same plain data.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from gallery_editor.domain.models import Product, ProductImage, TargetImage

MAX_NAME_LENGTH = 255

FieldName = Literal["name", "thumbnail", "enabled"]
FIELD_NAMES: tuple[FieldName, ...] = ("name", "thumbnail", "enabled")


class InvalidEdit(ValueError):
    """An edit that cannot be applied to the gallery as it is."""


class InvalidName(InvalidEdit):
    """A name that the gallery rejects; the message gives the reason."""


@dataclass(frozen=True, slots=True)
class ImageFields:
    """The editable fields of one image, apart from its place in the order."""

    name: str | None
    thumbnail: bool
    enabled: bool

    @classmethod
    def of(cls, image: ProductImage) -> ImageFields:
        return cls(image.name, image.thumbnail, image.enabled)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one image going from `old` to `new`."""

    image_id: str
    field: FieldName
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class MoveEdit:
    """A reorder: the order before and after, and the images the user moved."""

    moved_ids: tuple[str, ...]
    old_order: tuple[str, ...]
    new_order: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class FieldEdit:
    """A set of field changes made by one user action (rename, star, show/hide, revert)."""

    kind: str
    changes: tuple[FieldChange, ...]
    text: str


Edit = MoveEdit | FieldEdit


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """Gallery event: the working order went from `old_order` to `new_order`."""

    old_order: tuple[str, ...]
    new_order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FieldsChanged:
    """Gallery event: fields of these images changed."""

    image_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class SnapshotReplaced:
    """Gallery event: the snapshot and possibly the image set changed (after a reload)."""


GalleryEvent = OrderChanged | FieldsChanged | SnapshotReplaced
Listener = Callable[[GalleryEvent], None]


def validate_name(raw: str) -> str:
    """Return `raw` without surrounding whitespace, or raise `InvalidName` saying why."""
    name = raw.strip()
    if not name:
        raise InvalidName("A name cannot be empty.")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise InvalidName(
            "A name cannot contain control characters such as tabs or line breaks."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(
            f"A name can have at most {MAX_NAME_LENGTH} characters; "
            f"this one has {len(name)}."
        )
    return name


def quote(name: str | None) -> str:
    return "(no name)" if name is None else f"'{name}'"


class Gallery:
    """The working copy of one product's gallery next to the snapshot it was made from."""

    def __init__(self, snapshot: Product) -> None:
        self._snapshot = snapshot
        self._order: list[str] = [image.id for image in snapshot.images_in_order()]
        self._fields = {image.id: ImageFields.of(image) for image in snapshot.images}
        self._user_moves: Counter[str] = Counter()
        self._listeners: list[Listener] = []

    # -- reading -----------------------------------------------------------------

    @property
    def snapshot(self) -> Product:
        return self._snapshot

    @property
    def product_id(self) -> str:
        return self._snapshot.id

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def row_of(self, image_id: str) -> int:
        return self._order.index(image_id)

    def id_at(self, row: int) -> str:
        return self._order[row]

    def fields(self, image_id: str) -> ImageFields:
        return self._fields[image_id]

    def server_image(self, image_id: str) -> ProductImage:
        image = self._snapshot.image_by_id(image_id)
        if image is None:
            raise KeyError(image_id)
        return image

    def image(self, image_id: str) -> ProductImage:
        """Return the image with its working name and flags (``ordering`` is the server's)."""
        fields = self._fields[image_id]
        return replace(
            self.server_image(image_id),
            name=fields.name,
            thumbnail=fields.thumbnail,
            enabled=fields.enabled,
        )

    def working_images(self) -> list[ProductImage]:
        return [self.image(image_id) for image_id in self._order]

    def thumbnail_id(self) -> str | None:
        for image_id in self._order:
            if self._fields[image_id].thumbnail:
                return image_id
        return None

    def target(self) -> list[TargetImage]:
        """Return the intended state in display order, as the save planner takes it."""
        return [
            TargetImage(image_id, fields.name, fields.thumbnail, fields.enabled)
            for image_id in self._order
            for fields in (self._fields[image_id],)
        ]

    def server_order(self) -> tuple[str, ...]:
        return tuple(image.id for image in self._snapshot.images_in_order())

    def moved_image_ids(self) -> frozenset[str]:
        """Images the user moved: the fewest images whose moves explain the new order.

        Neighbours that only shifted are not counted. Among equally small sets, the one
        with the images the user dragged or moved explicitly is chosen.
        """
        server_rank = {image_id: rank for rank, image_id in enumerate(self.server_order())}
        ranks = [server_rank[image_id] for image_id in self._order]
        preferred = [self._user_moves[image_id] == 0 for image_id in self._order]
        kept = _heaviest_increasing_subsequence(ranks, preferred)
        return frozenset(self._order[i] for i in range(len(self._order)) if i not in kept)

    def changed_field_ids(self) -> frozenset[str]:
        return frozenset(
            image.id for image in self._snapshot.images
            if self._fields[image.id] != ImageFields.of(image)
        )

    def changed_image_ids(self) -> frozenset[str]:
        """Images the user changed: moved ones and those with a changed field."""
        return self.moved_image_ids() | self.changed_field_ids()

    def is_modified(self) -> bool:
        return bool(self.changed_field_ids()) or self._order != list(self.server_order())

    # -- building edits ------------------------------------------------------------

    def make_move(self, image_ids: Iterable[str], destination_row: int) -> MoveEdit | None:
        """Build a move of `image_ids` to just before the item now at `destination_row`.

        `destination_row` counts in the current order; ``len(self)`` means the end. The
        moved images keep their relative order. Returns None when nothing would move.
        """
        moving = self._known_ids(image_ids)
        if not moving:
            return None
        if not 0 <= destination_row <= len(self._order):
            raise InvalidEdit(
                f"Destination row {destination_row} is outside 0..{len(self._order)}."
            )
        in_order = [image_id for image_id in self._order if image_id in moving]
        rest = [image_id for image_id in self._order if image_id not in moving]
        insert_at = sum(
            1 for image_id in self._order[:destination_row] if image_id not in moving
        )
        new_order = rest[:insert_at] + in_order + rest[insert_at:]
        return self._move_edit(in_order, new_order)

    def make_shift(self, image_ids: Iterable[str], step: Literal[-1, 1]) -> MoveEdit | None:
        """Build a move of each selected block one place earlier (-1) or later (+1)."""
        moving = self._known_ids(image_ids)
        order = list(self._order)
        indexes = range(1, len(order)) if step < 0 else range(len(order) - 2, -1, -1)
        for index in indexes:
            neighbour = index + step
            if order[index] in moving and order[neighbour] not in moving:
                order[index], order[neighbour] = order[neighbour], order[index]
        in_order = [image_id for image_id in self._order if image_id in moving]
        return self._move_edit(in_order, order)

    def make_rename(self, image_id: str, raw_name: str) -> FieldEdit | None:
        """Build a rename; raises `InvalidName` for a name the server would reject."""
        name = validate_name(raw_name)
        old = self._fields[image_id].name
        if name == old:
            return None
        change = FieldChange(image_id, "name", old, name)
        return FieldEdit("rename", (change,), f"Rename to '{name}'")

    def make_toggle_thumbnail(self, image_id: str) -> FieldEdit:
        """Build a star click: star this image alone, or clear it if it is the star."""
        if self._fields[image_id].thumbnail:
            change = FieldChange(image_id, "thumbnail", True, False)
            return FieldEdit("thumbnail", (change,), "Clear thumbnail")
        changes = [
            FieldChange(other, "thumbnail", True, False)
            for other in self._order
            if other != image_id and self._fields[other].thumbnail
        ]
        changes.append(FieldChange(image_id, "thumbnail", False, True))
        text = f"Set {quote(self._fields[image_id].name)} as thumbnail"
        return FieldEdit("thumbnail", tuple(changes), text)

    def make_set_enabled(self, image_ids: Iterable[str], enabled: bool) -> FieldEdit | None:
        """Build a show (`enabled` true) or hide of every given image."""
        targets = [
            image_id for image_id in self._order
            if image_id in self._known_ids(image_ids)
            and self._fields[image_id].enabled != enabled
        ]
        if not targets:
            return None
        changes = tuple(
            FieldChange(image_id, "enabled", not enabled, enabled) for image_id in targets
        )
        verb = "Show" if enabled else "Hide"
        if len(targets) == 1:
            text = f"{verb} {quote(self._fields[targets[0]].name)}"
        else:
            text = f"{verb} {len(targets)} images"
        return FieldEdit("enabled", changes, text)

    def make_field_revert(self, image_id: str, field: FieldName) -> FieldEdit | None:
        """Build an edit that puts one field of one image back to the server's value."""
        server_value = getattr(ImageFields.of(self.server_image(image_id)), field)
        current = getattr(self._fields[image_id], field)
        if current == server_value:
            return None
        changes = [FieldChange(image_id, field, current, server_value)]
        if field == "thumbnail" and server_value:
            changes[:0] = [
                FieldChange(other, "thumbnail", True, False)
                for other in self._order
                if other != image_id and self._fields[other].thumbnail
            ]
        name = quote(self._fields[image_id].name)
        return FieldEdit("revert", tuple(changes), f"Revert {field} of {name}")

    def make_discard_all(self) -> list[Edit]:
        """Build the edits that bring the working copy back to the server state."""
        edits: list[Edit] = []
        server_order = list(self.server_order())
        if self._order != server_order:
            moved = sorted(self.moved_image_ids(), key=self._order.index)
            edit = self._move_edit(moved, server_order)
            if edit is not None:
                edits.append(replace(edit, text="Restore the server order"))
        changes = [
            FieldChange(image_id, field, getattr(fields, field), getattr(server, field))
            for image_id in self._order
            for fields, server in [
                (self._fields[image_id], ImageFields.of(self.server_image(image_id)))
            ]
            for field in FIELD_NAMES
            if getattr(fields, field) != getattr(server, field)
        ]
        if changes:
            edits.append(FieldEdit("revert", tuple(changes), "Discard field changes"))
        return edits

    # -- applying edits ------------------------------------------------------------

    def apply(self, edit: Edit) -> None:
        """Apply an edit built for the gallery's current state."""
        if isinstance(edit, MoveEdit):
            self._set_order(edit.old_order, edit.new_order)
            self._user_moves.update(edit.moved_ids)
        else:
            self._set_fields(edit.changes, forward=True)

    def revert(self, edit: Edit) -> None:
        """Undo an edit that was the last one applied."""
        if isinstance(edit, MoveEdit):
            self._set_order(edit.new_order, edit.old_order)
            self._user_moves.subtract(edit.moved_ids)
        else:
            self._set_fields(edit.changes, forward=False)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # -- persistence -----------------------------------------------------------------

    def state_to_json(self) -> dict[str, Any]:
        """Return the working state as JSON-ready data (the snapshot is stored separately)."""
        return {
            "order": list(self._order),
            "fields": {
                image_id: {
                    "name": fields.name,
                    "thumbnail": fields.thumbnail,
                    "enabled": fields.enabled,
                }
                for image_id, fields in self._fields.items()
            },
            "user_moves": {key: count for key, count in self._user_moves.items() if count},
        }

    @classmethod
    def from_state(cls, snapshot: Product, state: dict[str, Any]) -> Gallery:
        """Rebuild a gallery from `state_to_json` data made against `snapshot`."""
        gallery = cls(snapshot)
        order = [str(image_id) for image_id in state["order"]]
        if sorted(order) != sorted(gallery._order):
            raise InvalidEdit("The saved working order does not match the snapshot's images.")
        gallery._order = order
        for image_id, values in state["fields"].items():
            if image_id in gallery._fields:
                gallery._fields[image_id] = ImageFields(
                    values["name"], bool(values["thumbnail"]), bool(values["enabled"])
                )
        gallery._user_moves.update(state.get("user_moves", {}))
        return gallery

    def replace_snapshot(
        self, snapshot: Product, order: Sequence[str], fields: dict[str, ImageFields]
    ) -> None:
        """Swap in a newer snapshot with a merged working state (after a reload)."""
        if sorted(order) != sorted(image.id for image in snapshot.images):
            raise InvalidEdit("The merged order does not match the new snapshot's images.")
        self._snapshot = snapshot
        self._order = list(order)
        self._fields = dict(fields)
        self._user_moves = Counter(
            {key: count for key, count in self._user_moves.items() if key in self._fields}
        )
        self._notify(SnapshotReplaced())

    # -- internals -------------------------------------------------------------------

    def _known_ids(self, image_ids: Iterable[str]) -> set[str]:
        requested = set(image_ids)
        unknown = requested - self._fields.keys()
        if unknown:
            raise InvalidEdit(f"Unknown image ids: {', '.join(sorted(unknown))}")
        return requested

    def _move_edit(self, moved: Sequence[str], new_order: list[str]) -> MoveEdit | None:
        if new_order == self._order:
            return None
        if len(moved) == 1:
            text = f"Move {quote(self._fields[moved[0]].name)}"
        else:
            text = f"Move {len(moved)} images"
        return MoveEdit(tuple(moved), tuple(self._order), tuple(new_order), text)

    def _set_order(self, expected: tuple[str, ...], new: tuple[str, ...]) -> None:
        if tuple(self._order) != expected:
            raise InvalidEdit("The move was built for a different order.")
        self._order = list(new)
        self._notify(OrderChanged(expected, new))

    def _set_fields(self, changes: tuple[FieldChange, ...], *, forward: bool) -> None:
        for change in changes:
            expected = change.old if forward else change.new
            if getattr(self._fields[change.image_id], change.field) != expected:
                raise InvalidEdit(
                    f"The change of {change.field} on image {change.image_id} was built "
                    "for a different value."
                )
        for change in changes:
            value = change.new if forward else change.old
            current = self._fields[change.image_id]
            self._fields[change.image_id] = replace(current, **{change.field: value})
        self._notify(FieldsChanged(frozenset(change.image_id for change in changes)))

    def _notify(self, event: GalleryEvent) -> None:
        for listener in list(self._listeners):
            listener(event)


def edit_to_json(edit: Edit) -> dict[str, Any]:
    """Encode an edit as JSON-ready data for the journal's undo history."""
    if isinstance(edit, MoveEdit):
        return {
            "type": "move",
            "moved_ids": list(edit.moved_ids),
            "old_order": list(edit.old_order),
            "new_order": list(edit.new_order),
            "text": edit.text,
        }
    return {
        "type": "fields",
        "kind": edit.kind,
        "text": edit.text,
        "changes": [
            {"image_id": c.image_id, "field": c.field, "old": c.old, "new": c.new}
            for c in edit.changes
        ],
    }


def edit_from_json(data: dict[str, Any]) -> Edit:
    """Decode `edit_to_json` data; raises `InvalidEdit` for anything malformed."""
    try:
        if data["type"] == "move":
            return MoveEdit(
                tuple(data["moved_ids"]),
                tuple(data["old_order"]),
                tuple(data["new_order"]),
                str(data["text"]),
            )
        changes = tuple(
            FieldChange(c["image_id"], c["field"], c["old"], c["new"])
            for c in data["changes"]
        )
        return FieldEdit(str(data["kind"]), changes, str(data["text"]))
    except (KeyError, TypeError) as error:
        raise InvalidEdit(f"A saved edit is malformed: {error!r}") from None


def _heaviest_increasing_subsequence(keys: Sequence[int], preferred: Sequence[bool]) -> set[int]:
    """Return the indexes of a longest strictly increasing subsequence of distinct `keys`.

    Among the longest ones, the subsequence with the most `preferred` entries wins. Runs
    in O(n log n) with a Fenwick tree of prefix maxima over the keys (0..n-1).
    """
    size = len(keys)
    bonus = size + 1  # one more kept item always outweighs every preference
    tree: list[tuple[int, int]] = [(0, -1)] * (size + 1)
    best_at: list[int] = [0] * size
    previous: list[int] = [-1] * size

    for index, key in enumerate(keys):
        weight, before = 0, -1
        position = key  # prefix over keys strictly below `key`
        while position > 0:
            if tree[position][0] > weight:
                weight, before = tree[position]
            position -= position & -position
        total = weight + bonus + (1 if preferred[index] else 0)
        best_at[index], previous[index] = total, before
        position = key + 1
        while position <= size:
            if tree[position][0] < total:
                tree[position] = (total, index)
            position += position & -position

    kept: set[int] = set()
    index = max(range(size), key=best_at.__getitem__, default=-1)
    while index != -1:
        kept.add(index)
        index = previous[index]
    return kept
