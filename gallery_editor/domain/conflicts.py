"""Three-way merge of the user's gallery with a newer server snapshot of the same product.

`merge(base, mine, theirs)` takes the snapshot the user edited (`base`), the user's target
(`mine`) and the server's current state (`theirs`) and returns the target to save:

- A field the server changed and the user did not is taken from the server and listed as
  a `ServerUpdate`.
- A field both sides changed to different values is a `FieldConflict`, unless
  `resolutions` or `keep_mine_all` decide it. Both sides changing it to the same value is
  no conflict.
- The order of the images both sides have counts as one field: when both changed it
  differently, that is one `OrderConflict` that shows both orders.
- The thumbnail star is exclusive, so "which image is the star" counts as one field. Its
  conflict is a `FieldConflict` with ``field == "thumbnail"`` whose ``base``, ``mine`` and
  ``theirs`` are the id of the starred image (None for no star, a sorted tuple of ids
  when inconsistent data stars several). Its ``image_id`` is the image the user starred,
  or the image whose star the user cleared, so the key stays the same between merges.
- An image deleted on the server drops the user's changes to it (listed in ``deleted``).
  An image added on the server goes after the arranged images, in server order (listed
  in ``added``).
- Values the server shows that equal values we sent ourselves (``own_writes``, from the
  journal) count as unchanged by the server, so a save resumed after a crash never
  reports its own writes as conflicts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gallery_editor.domain.models import Product, ProductImage, TargetImage

logger = logging.getLogger(__name__)

Choice = Literal["mine", "theirs"]
ConflictKey = tuple[str, ...]
StarValue = str | tuple[str, ...] | None

# Fields merged one image at a time; the star and the order are merged for the whole gallery.
PER_IMAGE_FIELDS = ("name", "enabled")
ORDER_KEY: ConflictKey = ("order",)


@dataclass(frozen=True)
class FieldConflict:
    """One field that the user and the server both changed, to different values."""

    image_id: str
    field: str
    base: object
    mine: object
    theirs: object

    @property
    def key(self) -> ConflictKey:
        return ("field", self.image_id, self.field)


@dataclass(frozen=True)
class OrderConflict:
    """The order of the common images, changed differently by the user and the server."""

    base_order: tuple[str, ...]
    mine_order: tuple[str, ...]
    theirs_order: tuple[str, ...]

    @property
    def key(self) -> ConflictKey:
        return ORDER_KEY


Conflict = FieldConflict | OrderConflict


@dataclass(frozen=True)
class ServerUpdate:
    """A field that was updated on the server and that the merge takes over."""

    image_id: str
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class MergeResult:
    """The merged target next to the server snapshot it is to be saved against.

    ``conflicts`` lists the conflicts that no resolution decided; ``resolved`` lists the
    decided ones with the choice that was applied. ``deleted`` contains (id, name) pairs of
    images that are gone from the server, ``added`` the ids of images new on the server.
    """

    snapshot: Product
    target: list[TargetImage]
    conflicts: list[Conflict]
    server_updates: list[ServerUpdate]
    deleted: list[tuple[str, str | None]]
    added: list[str]
    resolved: list[tuple[Conflict, Choice]] = field(default_factory=list)

    @property
    def unresolved(self) -> bool:
        return bool(self.conflicts)


@dataclass
class _Decider:
    """Applies resolutions to conflicts and collects what stays undecided."""

    resolutions: Mapping[tuple, Choice]
    keep_mine_all: bool
    conflicts: list[Conflict] = field(default_factory=list)
    resolved: list[tuple[Conflict, Choice]] = field(default_factory=list)

    def decide(self, conflict: Conflict) -> Choice:
        """Return the side to take; an undecided conflict keeps the user's value for now."""
        choice = self.resolutions.get(conflict.key)
        if choice is None and self.keep_mine_all:
            choice = "mine"
        if choice is None:
            self.conflicts.append(conflict)
            return "mine"
        if choice not in ("mine", "theirs"):
            raise ValueError(
                f"Resolution {choice!r} for conflict {conflict.key} is invalid: "
                "use 'mine' or 'theirs'."
            )
        self.resolved.append((conflict, choice))
        return choice


def merge(
    base: Product,
    mine: Sequence[TargetImage],
    theirs: Product,
    *,
    own_writes: Mapping[str, Mapping[str, object]] | None = None,
    resolutions: Mapping[tuple, Choice] | None = None,
    keep_mine_all: bool = False,
) -> MergeResult:
    """Merge the user's target with the server's current state; see the module docstring.

    `mine` may name images that `base` lacks (an arrangement written by hand): for those
    the server's values serve as the base, so every difference counts as the user's.
    Images of `mine` that the server no longer has are dropped and listed in ``deleted``.
    """
    own = own_writes or {}
    decider = _Decider(resolutions or {}, keep_mine_all)
    theirs_by_id = {image.id: image for image in theirs.images}
    base_by_id = {image.id: image for image in base.images}
    _check_unique_ids(mine)

    kept = [wanted for wanted in mine if wanted.id in theirs_by_id]
    deleted = _deleted_images(base, mine, theirs_by_id)
    mine_ids = {wanted.id for wanted in mine}
    added = [image.id for image in theirs.images_in_order() if image.id not in mine_ids]

    updates: list[ServerUpdate] = []
    merged_fields = {
        wanted.id: _merge_fields(
            wanted, base_by_id.get(wanted.id), theirs_by_id[wanted.id], own, decider, updates
        )
        for wanted in kept
    }
    order = _merge_order(base, kept, theirs, own, decider, updates)
    stars = _merge_star(base, mine, kept, theirs, own, decider, updates)

    target = [_target_image(image_id, merged_fields, theirs_by_id, stars) for image_id in order]
    target += [_target_image(image_id, {}, theirs_by_id, stars) for image_id in added]
    _log_merge(theirs.id, decider, updates, deleted, added)
    return MergeResult(
        snapshot=theirs,
        target=target,
        conflicts=decider.conflicts,
        server_updates=updates,
        deleted=deleted,
        added=added,
        resolved=decider.resolved,
    )


# -- steps of the merge -----------------------------------------------------------------


def _check_unique_ids(mine: Sequence[TargetImage]) -> None:
    seen: set[str] = set()
    for wanted in mine:
        if wanted.id in seen:
            raise ValueError(
                f"Image {wanted.id!r} appears twice in the target: list every image once."
            )
        seen.add(wanted.id)


def _deleted_images(
    base: Product, mine: Sequence[TargetImage], theirs_by_id: Mapping[str, ProductImage]
) -> list[tuple[str, str | None]]:
    names: dict[str, str | None] = {image.id: image.name for image in base.images}
    names.update({wanted.id: wanted.name for wanted in mine})
    return [(image_id, name) for image_id, name in names.items() if image_id not in theirs_by_id]


def _merge_fields(
    wanted: TargetImage,
    base_image: ProductImage | None,
    server: ProductImage,
    own: Mapping[str, Mapping[str, object]],
    decider: _Decider,
    updates: list[ServerUpdate],
) -> dict[str, object]:
    """Merge the per-image fields (name, enabled) of one image that both sides have."""
    reference = base_image if base_image is not None else server
    sent = own.get(wanted.id, {})
    merged: dict[str, object] = {}
    for name in PER_IMAGE_FIELDS:
        base_value = getattr(reference, name)
        mine_value = getattr(wanted, name)
        theirs_value = getattr(server, name)
        server_changed = theirs_value != base_value and not _is_own(sent, name, theirs_value)
        if not server_changed or mine_value == theirs_value:
            merged[name] = mine_value
        elif mine_value == base_value:
            merged[name] = theirs_value
            updates.append(ServerUpdate(wanted.id, name, base_value, theirs_value))
        else:
            conflict = FieldConflict(wanted.id, name, base_value, mine_value, theirs_value)
            choice = decider.decide(conflict)
            merged[name] = mine_value if choice == "mine" else theirs_value
    return merged


def _is_own(sent: Mapping[str, object], name: str, value: object) -> bool:
    return name in sent and sent[name] == value


def _merge_order(
    base: Product,
    kept: Sequence[TargetImage],
    theirs: Product,
    own: Mapping[str, Mapping[str, object]],
    decider: _Decider,
    updates: list[ServerUpdate],
) -> list[str]:
    """Merge the order of the images both sides have; the order counts as one field."""
    common = {wanted.id for wanted in kept}
    base_known = {image.id for image in base.images}
    mine_order = tuple(wanted.id for wanted in kept)
    theirs_order = tuple(image.id for image in theirs.images_in_order() if image.id in common)
    # Images the base lacks sit in the base order where the server has them.
    base_order = _base_order(base, theirs, common, base_known)

    server_changed = theirs_order != base_order and not _orderings_are_own(
        base, theirs, common, own
    )
    user_changed = mine_order != base_order
    if not server_changed or mine_order == theirs_order:
        return list(mine_order)
    if not user_changed:
        updates.extend(_ordering_updates(base, theirs, common))
        return list(theirs_order)

    conflict = OrderConflict(base_order, mine_order, theirs_order)
    choice = decider.decide(conflict)
    return list(mine_order if choice == "mine" else theirs_order)


def _base_order(
    base: Product, theirs: Product, common: set[str], base_known: set[str]
) -> tuple[str, ...]:
    known = [image.id for image in base.images_in_order() if image.id in common]
    if all(image_id in base_known for image_id in common):
        return tuple(known)
    # Slot each image the base lacks in after its server predecessor among the known ones.
    order = list(known)
    previous: str | None = None
    for image in theirs.images_in_order():
        if image.id not in common:
            continue
        if image.id not in base_known:
            position = order.index(previous) + 1 if previous is not None else 0
            order.insert(position, image.id)
        previous = image.id
    return tuple(order)


def _orderings_are_own(
    base: Product,
    theirs: Product,
    common: set[str],
    own: Mapping[str, Mapping[str, object]],
) -> bool:
    """Return whether every server ordering is the base's value or one we sent ourselves."""
    base_by_id = {image.id: image for image in base.images}
    for image in theirs.images:
        if image.id not in common:
            continue
        base_image = base_by_id.get(image.id)
        if base_image is not None and image.ordering == base_image.ordering:
            continue
        if not _is_own(own.get(image.id, {}), "ordering", image.ordering):
            return False
    return True


def _ordering_updates(base: Product, theirs: Product, common: set[str]) -> list[ServerUpdate]:
    base_by_id = {image.id: image for image in base.images}
    updates = []
    for image in theirs.images_in_order():
        old = base_by_id.get(image.id)
        if image.id in common and old is not None and old.ordering != image.ordering:
            updates.append(ServerUpdate(image.id, "ordering", old.ordering, image.ordering))
    return updates


def _merge_star(
    base: Product,
    mine: Sequence[TargetImage],
    kept: Sequence[TargetImage],
    theirs: Product,
    own: Mapping[str, Mapping[str, object]],
    decider: _Decider,
    updates: list[ServerUpdate],
) -> frozenset[str]:
    """Merge which image carries the thumbnail star, as one field of the whole gallery."""
    present = {image.id for image in theirs.images}
    kept_ids = {wanted.id for wanted in kept}
    theirs_star = frozenset(image.id for image in theirs.images if image.thumbnail)
    base_star = _base_star(base, kept, theirs, present)
    mine_star = frozenset(wanted.id for wanted in kept if wanted.thumbnail)
    if any(wanted.thumbnail and wanted.id not in present for wanted in mine):
        # The user starred an image that is gone: that change is dropped with the image.
        mine_star = base_star
    # A star on an image only the server has is the server's; the user never saw it.
    mine_star |= theirs_star - kept_ids

    server_changed = theirs_star != base_star and not _star_is_own(base_star, theirs_star, own)
    if not server_changed or mine_star == theirs_star:
        return mine_star
    if mine_star == base_star:
        updates.extend(_star_updates(base_star, theirs_star))
        return theirs_star

    subject = _star_subject(mine_star, base_star, theirs_star)
    conflict = FieldConflict(
        subject,
        "thumbnail",
        _star_value(base_star),
        _star_value(mine_star),
        _star_value(theirs_star),
    )
    choice = decider.decide(conflict)
    return mine_star if choice == "mine" else theirs_star


def _base_star(
    base: Product, kept: Sequence[TargetImage], theirs: Product, present: set[str]
) -> frozenset[str]:
    base_ids = {image.id for image in base.images}
    star = {image.id for image in base.images if image.thumbnail and image.id in present}
    # Images the base lacks take the server's flag as their base value.
    star |= {image.id for image in theirs.images if image.thumbnail and image.id not in base_ids}
    return frozenset(star)


def _star_is_own(
    base_star: frozenset[str],
    theirs_star: frozenset[str],
    own: Mapping[str, Mapping[str, object]],
) -> bool:
    """Return whether our own thumbnail writes explain the server's star."""
    if theirs_star:
        return all(own.get(image_id, {}).get("thumbnail") is True for image_id in theirs_star)
    return any(own.get(image_id, {}).get("thumbnail") is False for image_id in base_star)


def _star_updates(old: frozenset[str], new: frozenset[str]) -> list[ServerUpdate]:
    return [
        ServerUpdate(image_id, "thumbnail", image_id in old, image_id in new)
        for image_id in sorted(old ^ new)
    ]


def _star_subject(
    mine_star: frozenset[str], base_star: frozenset[str], theirs_star: frozenset[str]
) -> str:
    for candidates in (mine_star, base_star, theirs_star):
        if candidates:
            return min(candidates)
    raise AssertionError("a star conflict needs a starred image on some side")


def _star_value(star: frozenset[str]) -> StarValue:
    if not star:
        return None
    if len(star) == 1:
        return next(iter(star))
    return tuple(sorted(star))


def _target_image(
    image_id: str,
    merged_fields: Mapping[str, Mapping[str, object]],
    theirs_by_id: Mapping[str, ProductImage],
    stars: frozenset[str],
) -> TargetImage:
    server = theirs_by_id[image_id]
    fields = merged_fields.get(image_id, {})
    name = fields.get("name", server.name)
    enabled = fields.get("enabled", server.enabled)
    return TargetImage(image_id, name, image_id in stars, bool(enabled))  # type: ignore[arg-type]


def _log_merge(
    product_id: str,
    decider: _Decider,
    updates: Sequence[ServerUpdate],
    deleted: Sequence[tuple[str, str | None]],
    added: Sequence[str],
) -> None:
    logger.info(
        "Merged product %s: %d unresolved conflicts, %d resolved, %d server updates, "
        "%d deleted and %d added images",
        product_id,
        len(decider.conflicts),
        len(decider.resolved),
        len(updates),
        len(deleted),
        len(added),
    )
