"""Three-way merge rules of `domain.conflicts.merge`, on products built in the test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gallery_editor.domain.conflicts import FieldConflict, OrderConflict, ServerUpdate, merge
from gallery_editor.domain.models import Product, ProductImage, TargetImage


def _product(*images: ProductImage) -> Product:
    return Product(id="p1", name="Mug", images=images)


def _image(image_id: str, ordering: int, name: str | None = None, *, thumbnail: bool = False) -> ProductImage:
    return ProductImage(image_id, name or image_id.upper(), f"media/{image_id}.jpg", ordering, thumbnail, True)


BASE = _product(_image("a", 0, thumbnail=True), _image("b", 1), _image("c", 2), _image("d", 3))


def _target(product: Product) -> list[TargetImage]:
    return [TargetImage(i.id, i.name, i.thumbnail, i.enabled) for i in product.images_in_order()]


def _with(product: Product, image_id: str, **changes: object) -> Product:
    return product.with_images(
        tuple(image.with_changes(**changes) if image.id == image_id else image for image in product.images)
    )


def _rename(target: list[TargetImage], image_id: str, name: str) -> list[TargetImage]:
    return [replace(t, name=name) if t.id == image_id else t for t in target]


def _order(target: list[TargetImage], *ids: str) -> list[TargetImage]:
    by_id = {t.id: t for t in target}
    return [by_id[i] for i in ids]


def _star(target: list[TargetImage], image_id: str | None) -> list[TargetImage]:
    return [replace(t, thumbnail=t.id == image_id) for t in target]


def test_untouched_field_takes_server_value() -> None:
    theirs = _with(BASE, "b", name="Server B")
    result = merge(BASE, _target(BASE), theirs)
    assert not result.unresolved
    assert [t.name for t in result.target if t.id == "b"] == ["Server B"]
    assert result.server_updates == [ServerUpdate("b", "name", "B", "Server B")]


def test_both_changed_differently_is_conflict() -> None:
    theirs = _with(BASE, "b", name="Server B")
    mine = _rename(_target(BASE), "b", "My B")
    result = merge(BASE, mine, theirs)
    assert result.unresolved
    assert result.conflicts == [FieldConflict("b", "name", "B", "My B", "Server B")]
    assert result.conflicts[0].key == ("field", "b", "name")


def test_both_changed_same_value_is_fine() -> None:
    theirs = _with(BASE, "b", name="Same")
    result = merge(BASE, _rename(_target(BASE), "b", "Same"), theirs)
    assert not result.unresolved
    assert result.server_updates == []


@pytest.mark.parametrize(("choice", "expected"), [("mine", "My B"), ("theirs", "Server B")])
def test_resolution_picks_side(choice: str, expected: str) -> None:
    theirs = _with(BASE, "b", name="Server B")
    mine = _rename(_target(BASE), "b", "My B")
    result = merge(BASE, mine, theirs, resolutions={("field", "b", "name"): choice})  # type: ignore[dict-item]
    assert not result.unresolved
    assert [t.name for t in result.target if t.id == "b"] == [expected]
    assert [pair[1] for pair in result.resolved] == [choice]


def test_keep_mine_all_resolves_everything() -> None:
    theirs = _with(_with(BASE, "b", name="Server B"), "c", ordering=-1)
    mine = _order(_rename(_target(BASE), "b", "My B"), "d", "c", "b", "a")
    result = merge(BASE, mine, theirs, keep_mine_all=True)
    assert not result.unresolved
    assert [t.id for t in result.target] == ["d", "c", "b", "a"]
    assert [t.name for t in result.target if t.id == "b"] == ["My B"]


def test_deleted_image_drops_changes() -> None:
    theirs = _product(*[image for image in BASE.images if image.id != "c"])
    mine = _rename(_target(BASE), "c", "Renamed C")
    result = merge(BASE, mine, theirs)
    assert result.deleted == [("c", "Renamed C")]
    assert [t.id for t in result.target] == ["a", "b", "d"]
    assert not result.unresolved


def test_added_image_goes_after_arranged() -> None:
    theirs = _product(*BASE.images, _image("n2", 9), _image("n1", -1))
    mine = _order(_target(BASE), "d", "c", "b", "a")
    result = merge(BASE, mine, theirs)
    assert result.added == ["n1", "n2"]
    assert [t.id for t in result.target] == ["d", "c", "b", "a", "n1", "n2"]
    assert not result.unresolved


def test_order_changed_by_server_only_is_taken() -> None:
    theirs = _with(BASE, "d", ordering=-1)
    result = merge(BASE, _rename(_target(BASE), "a", "New A"), theirs)
    assert [t.id for t in result.target] == ["d", "a", "b", "c"]
    assert ServerUpdate("d", "ordering", 3, -1) in result.server_updates


def test_order_changed_by_both_is_one_conflict() -> None:
    theirs = _with(BASE, "d", ordering=-1)
    mine = _order(_target(BASE), "b", "a", "c", "d")
    result = merge(BASE, mine, theirs)
    assert result.conflicts == [
        OrderConflict(("a", "b", "c", "d"), ("b", "a", "c", "d"), ("d", "a", "b", "c"))
    ]
    assert result.conflicts[0].key == ("order",)


def test_same_order_on_both_sides_is_fine() -> None:
    theirs = _with(BASE, "d", ordering=-1)
    mine = _order(_target(BASE), "d", "a", "b", "c")
    assert not merge(BASE, mine, theirs).unresolved


def test_star_moved_by_both_is_one_conflict() -> None:
    theirs = _with(BASE, "c", thumbnail=True)
    theirs = _with(theirs, "a", thumbnail=False)
    mine = _star(_target(BASE), "b")
    result = merge(BASE, mine, theirs)
    assert result.conflicts == [FieldConflict("b", "thumbnail", "a", "b", "c")]


def test_star_moved_by_server_only_is_taken() -> None:
    theirs = _with(_with(BASE, "c", thumbnail=True), "a", thumbnail=False)
    result = merge(BASE, _target(BASE), theirs)
    assert [t.id for t in result.target if t.thumbnail] == ["c"]
    assert {(u.image_id, u.new) for u in result.server_updates} == {("a", False), ("c", True)}


def test_star_on_deleted_image_drops_star_change() -> None:
    theirs = _product(*[image for image in BASE.images if image.id != "c"])
    result = merge(BASE, _star(_target(BASE), "c"), theirs)
    assert [t.id for t in result.target if t.thumbnail] == ["a"]


def test_own_writes_are_not_conflicts() -> None:
    # We sent name and new orderings before a crash; the user renamed again afterwards.
    theirs = _with(_with(BASE, "b", name="Sent B"), "d", ordering=-5)
    own = {"b": {"name": "Sent B"}, "d": {"ordering": -5}}
    mine = _order(_rename(_target(BASE), "b", "Later B"), "d", "a", "c", "b")
    result = merge(BASE, mine, theirs, own_writes=own)
    assert not result.unresolved
    assert result.server_updates == []
    assert [t.id for t in result.target] == ["d", "a", "c", "b"]
    assert [t.name for t in result.target if t.id == "b"] == ["Later B"]


def test_own_star_write_is_not_conflict() -> None:
    theirs = _with(_with(BASE, "c", thumbnail=True), "a", thumbnail=False)
    result = merge(BASE, _star(_target(BASE), "d"), theirs, own_writes={"c": {"thumbnail": True}})
    assert not result.unresolved
    assert [t.id for t in result.target if t.thumbnail] == ["d"]


def test_image_missing_from_base_counts_as_mine() -> None:
    base = _product(*[image for image in BASE.images if image.id != "d"])
    mine = _rename(_order(_target(BASE), "d", "a", "b", "c"), "d", "Front D")
    result = merge(base, mine, BASE)
    assert not result.unresolved
    assert [t.id for t in result.target] == ["d", "a", "b", "c"]
    assert result.deleted == []


def test_duplicate_target_ids_rejected() -> None:
    mine = _target(BASE) + _target(BASE)[:1]
    with pytest.raises(ValueError, match="appears twice"):
        merge(BASE, mine, BASE)
