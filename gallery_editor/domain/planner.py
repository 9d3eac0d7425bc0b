"""Save planning: the fewest image PATCH calls that turn a server snapshot into a target.

`plan_patches` assumes the server stores ``ordering`` as a plain sort key and sorts a
product's images by (``ordering``, index in the server's array). `dense_ordering_patches`
is the fallback that is also correct when the server treats ``ordering`` as a position.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from gallery_editor.domain.gallery import InvalidName, validate_name
from gallery_editor.domain.models import EDITABLE_FIELDS, Product, ProductImage, TargetImage

logger = logging.getLogger(__name__)

# Thumbnail bodies to send, by image id: one way of reaching the requested star(s).
ThumbnailOption = dict[str, bool]


@dataclass(frozen=True)
class Patch:
    """One PATCH of one image: its id and the fields to send, which are never empty."""

    image_id: str
    body: dict[str, object]

    def __post_init__(self) -> None:
        if not self.body:
            raise ValueError(
                f"Patch of image {self.image_id!r} has an empty body. "
                "Leave an unchanged image out of the plan."
            )
        unknown = sorted(set(self.body) - set(EDITABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"Patch of image {self.image_id!r} has unknown fields {unknown}. "
                f"A PATCH may only carry {', '.join(EDITABLE_FIELDS)}."
            )


def ordering_changes(patches: Sequence[Patch]) -> int:
    """Count the patches that send an ``ordering`` value."""
    return sum(1 for patch in patches if "ordering" in patch.body)


def plan_patches(snapshot: Product, target: Sequence[TargetImage]) -> list[Patch]:
    """Plan one PATCH per changed image, with the fewest calls and then the fewest orderings.

    `target` lists every image of `snapshot` once, in the requested display order.
    Patches come in target order and carry only changed fields. The rules:

    - Order. After the plan, the server's order (by ``ordering``, ties by array index)
      equals the target order. When the target order already is the snapshot's display
      order, no ``ordering`` is sent, even if the snapshot has ties, because the server
      already shows that order. Otherwise the final values are strictly increasing along
      the whole target order. So a changed order never depends on ties, because the
      order of the server's array is not documented. Among such plans, the planner keeps
      the current values of a maximum set of images and gives the others values in the
      gaps. The number of calls is minimal first and the number of ``ordering`` changes
      second, so an image patched for another field may take a new value for free. No
      value sent is negative or equal to the server's.
    - Thumbnail. ``thumbnail: true`` goes to the newly starred image only, because the
      server then clears the others. Clearing the star sends ``thumbnail: false`` to the
      starred image(s). With several starred images in the snapshot (inconsistent data)
      the plan reaches exactly the requested star(s) with the fewest calls. It may then
      send ``thumbnail: true`` to an image that is already starred, to clear the others.
    - Name. A changed name must pass `gallery.validate_name` unchanged: trimmed, not
      empty, no control characters, at most 255 characters. A name cannot be set back to
      null, because the API accepts only text.

    Raises ValueError when the target's image ids differ from the snapshot's, when a name
    change is invalid, or when the target stars several images the server cannot keep.
    """
    current = _check_target(snapshot, target)
    field_bodies = [_field_changes(current[item.id], item) for item in target]
    order_changed = [target_image.id for target_image in target] != [
        image.id for image in snapshot.images_in_order()
    ]
    values = [current[target_image.id].ordering for target_image in target]

    best: list[Patch] | None = None
    for option in _thumbnail_options(snapshot, target):
        plan = _plan_with_thumbnails(target, field_bodies, option, values, order_changed)
        if best is None or _plan_cost(plan) < _plan_cost(best):
            best = plan
    assert best is not None  # _thumbnail_options returns at least one option
    logger.debug(
        "Planned %d patches (%d ordering changes) for %d images of product %s",
        len(best),
        ordering_changes(best),
        len(target),
        snapshot.id,
    )
    return best


def dense_ordering_patches(snapshot: Product, target: Sequence[TargetImage]) -> list[Patch]:
    """Plan ``{"ordering": i}`` for the i-th target image, for every image in target order.

    This fallback is correct whether the server stores ``ordering`` as a plain sort key
    or treats it as a position that shifts the other images. With sort keys the values
    end as 0..n-1. With positions, step i puts the i-th image in slot i without touching
    slots 0..i-1. The plan includes images whose value already is i, because under
    position semantics an earlier step may have shifted them. The patches must be sent
    strictly one after another in this order, and the product re-read afterwards. Only
    ``ordering`` is sent.

    Raises ValueError when the target's image ids differ from the snapshot's.
    """
    _check_target(snapshot, target)
    return [Patch(item.id, {"ordering": index}) for index, item in enumerate(target)]


def _check_target(snapshot: Product, target: Sequence[TargetImage]) -> dict[str, ProductImage]:
    """Map image id to snapshot image, or raise ValueError unless target lists each once."""
    current = {image.id: image for image in snapshot.images}
    if len(current) != len(snapshot.images):
        raise ValueError(
            f"Snapshot of product {snapshot.id} lists an image id twice. Re-read the product."
        )
    counts = Counter(target_image.id for target_image in target)
    duplicates = sorted(image_id for image_id, count in counts.items() if count > 1)
    unknown = sorted(set(counts) - set(current))
    missing = sorted(set(current) - set(counts))
    problems = []
    if duplicates:
        problems.append(f"listed more than once: {', '.join(duplicates)}")
    if unknown:
        problems.append(f"not in the product: {', '.join(unknown)}")
    if missing:
        problems.append(f"missing from the target: {', '.join(missing)}")
    if problems:
        raise ValueError(
            f"Target images do not match the images of product {snapshot.id} "
            f"({'; '.join(problems)}). Rebuild the target from the current snapshot."
        )
    return current


def _field_changes(image: ProductImage, target_image: TargetImage) -> dict[str, object]:
    """Return the changed ``name`` and ``enabled`` of one image as body entries."""
    body: dict[str, object] = {}
    if target_image.name != image.name:
        _check_new_name(image.id, target_image.name)
        body["name"] = target_image.name
    if target_image.enabled != image.enabled:
        body["enabled"] = target_image.enabled
    return body


def _check_new_name(image_id: str, name: str | None) -> None:
    if name is None:
        raise ValueError(
            f"Image {image_id}: the name cannot be set back to null because the API only "
            "accepts text. Keep the server's name or enter a new one."
        )
    try:
        valid = validate_name(name)
    except InvalidName as error:
        raise ValueError(f"Image {image_id}: invalid name {name!r}: {error}") from error
    if valid != name:
        raise ValueError(
            f"Image {image_id}: name {name!r} has surrounding whitespace. Send {valid!r}."
        )


def _thumbnail_options(snapshot: Product, target: Sequence[TargetImage]) -> list[ThumbnailOption]:
    """List the thumbnail bodies that each reach the requested star(s), best guess first.

    Raises ValueError when the target stars several images and they are not all starred
    already, because ``thumbnail: true`` clears every other star on the server.
    """
    starred = [image.id for image in snapshot.images if image.thumbnail]
    requested = [target_image.id for target_image in target if target_image.thumbnail]
    if set(requested) == set(starred):
        return [{}]
    if len(requested) == 1:
        star = requested[0]
        options: list[ThumbnailOption] = [{star: True}]
        if star in starred:
            # Clearing the extra stars can cost fewer calls when those images are patched anyway.
            options.append({image_id: False for image_id in starred if image_id != star})
        return options
    if set(requested) <= set(starred):
        return [{image_id: False for image_id in starred if image_id not in requested}]
    raise ValueError(
        f"Target stars {len(requested)} images of product {snapshot.id} "
        f"({', '.join(requested)}), but starring an image clears the star of every other "
        "image. Star one image."
    )


def _plan_with_thumbnails(
    target: Sequence[TargetImage],
    field_bodies: Sequence[dict[str, object]],
    thumbnails: ThumbnailOption,
    values: Sequence[int],
    order_changed: bool,
) -> list[Patch]:
    """Build the plan for one thumbnail option: field changes plus the cheapest orderings."""
    bodies = [dict(body) for body in field_bodies]
    for body, target_image in zip(bodies, target):
        if target_image.id in thumbnails:
            body["thumbnail"] = thumbnails[target_image.id]
    if order_changed:
        patched = [bool(body) for body in bodies]
        new_values = plan_ordering_values(values, patched)
        for body, old, new in zip(bodies, values, new_values):
            if new != old:
                body["ordering"] = new
    return [Patch(target_image.id, body) for target_image, body in zip(target, bodies) if body]


def _plan_cost(plan: Sequence[Patch]) -> tuple[int, int]:
    return len(plan), ordering_changes(plan)


def plan_ordering_values(values: Sequence[int], patched: Sequence[bool]) -> list[int]:
    """Choose strictly increasing, non-negative values, keeping as many current ones as possible.

    `values` are the current values in target order. `patched[i]` is true when image i
    gets a PATCH anyway, so changing its value costs no call. The result first minimises the
    unpatched images whose value changes, then all changed values. It runs in
    O(n log n).
    """
    kept = _select_kept(values, patched)
    return _fill_gaps(values, kept)


def _select_kept(values: Sequence[int], patched: Sequence[bool]) -> list[int]:
    """Return the target indices whose values stay, as a maximum-weight feasible set.

    Kept images p < q (target indices) are compatible when their values leave room for
    the q - p - 1 images between them: ``values[q] - q >= values[p] - p``. The first kept
    image needs room for the p images before it at values >= 0: ``values[p] - p >= 0``.
    So the kept set is a maximum-weight non-decreasing subsequence of the keys
    ``values[i] - i`` among keys >= 0. An unpatched image weighs more than all patched
    images together, which makes saved calls count before saved ordering changes.
    """
    count = len(values)
    unpatched_weight = count + 1
    keys = [value - index for index, value in enumerate(values)]
    candidates = [index for index in range(count) if keys[index] >= 0]
    if not candidates:
        return []
    distinct_keys = sorted({keys[index] for index in candidates})
    rank = {key: position + 1 for position, key in enumerate(distinct_keys)}
    tree = _MaxFenwickTree(len(rank))
    chain_weight = [0] * count
    predecessor = [-1] * count
    for index in candidates:
        best_weight, best_index = tree.prefix_max(rank[keys[index]])
        chain_weight[index] = best_weight + (1 if patched[index] else unpatched_weight)
        predecessor[index] = best_index
        tree.update(rank[keys[index]], chain_weight[index], index)
    last = max(candidates, key=lambda index: chain_weight[index])
    kept = []
    while last != -1:
        kept.append(last)
        last = predecessor[last]
    kept.reverse()
    return kept


class _MaxFenwickTree:
    """Fenwick tree of (weight, index) maxima over 1-based ranks, queried by prefix."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._weight = [0] * (size + 1)
        self._index = [-1] * (size + 1)

    def prefix_max(self, rank: int) -> tuple[int, int]:
        """Return the maximum weight at ranks 1..rank and its index, or (0, -1)."""
        weight, index = 0, -1
        while rank > 0:
            if self._weight[rank] > weight:
                weight, index = self._weight[rank], self._index[rank]
            rank -= rank & -rank
        return weight, index

    def update(self, rank: int, weight: int, index: int) -> None:
        while rank <= self._size:
            if weight > self._weight[rank]:
                self._weight[rank] = weight
                self._index[rank] = index
            rank += rank & -rank


def _fill_gaps(values: Sequence[int], kept: Sequence[int]) -> list[int]:
    """Keep the values at `kept` and spread the other images over the gaps between them."""
    result = list(values)
    # A virtual kept image at index -1 with value -1 makes the first gap start at 0.
    previous_index, previous_value = -1, -1
    for index in kept:
        _spread(result, previous_index, previous_value, index, values[index])
        previous_index, previous_value = index, values[index]
    # After the last kept image the values simply continue upward.
    for offset, index in enumerate(range(previous_index + 1, len(values)), start=1):
        result[index] = previous_value + offset
    return result


def _spread(result: list[int], low_index: int, low: int, high_index: int, high: int) -> None:
    """Give the images strictly between two kept ones evenly spaced values in (low, high).

    Even spacing leaves room on both sides, so a later move into this gap is likely to
    need only one new value. `_select_kept` guarantees high - low >= high_index - low_index.
    """
    count = high_index - low_index - 1
    span = high - low
    for step in range(1, count + 1):
        result[low_index + step] = low + step * span // (count + 1)
