"""Table-driven cases for the save planner, checked against the simulated server."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pytest
from simulated_server import SimulatedServer

from gallery_editor.domain.models import Product, ProductImage, TargetImage
from gallery_editor.domain.planner import (
    Patch,
    dense_ordering_patches,
    ordering_changes,
    plan_patches,
)

TargetEdit = Callable[[list[TargetImage]], list[TargetImage]]


def image_id(index: int) -> str:
    return f"img{index:05d}"


def make_product(orderings: Sequence[int], starred: Sequence[int] = ()) -> Product:
    """Build a product whose i-th array image has ordering ``orderings[i]``."""
    images = tuple(
        ProductImage(
            id=image_id(index),
            name=f"photo {index}.png",
            image=f"media/products/p/{index}.png",
            ordering=value,
            thumbnail=index in starred,
            enabled=True,
        )
        for index, value in enumerate(orderings)
    )
    return Product(id="product-1", name="Test product", images=images)


def unchanged_target(product: Product) -> list[TargetImage]:
    return [
        TargetImage(image.id, image.name, image.thumbnail, image.enabled)
        for image in product.images_in_order()
    ]


def move(source: int, destination: int) -> TargetEdit:
    """Move the image at display position `source` to position `destination`."""

    def edit(target: list[TargetImage]) -> list[TargetImage]:
        moved = target.pop(source)
        target.insert(destination if destination >= 0 else len(target) + 1 + destination, moved)
        return target

    return edit


def reverse(target: list[TargetImage]) -> list[TargetImage]:
    return target[::-1]


def shuffle(seed: int) -> TargetEdit:
    def edit(target: list[TargetImage]) -> list[TargetImage]:
        random.Random(seed).shuffle(target)
        return target

    return edit


def rename(array_index: int, name: str) -> TargetEdit:
    def edit(target: list[TargetImage]) -> list[TargetImage]:
        return [replace(t, name=name) if t.id == image_id(array_index) else t for t in target]

    return edit


def set_stars(*array_indices: int) -> TargetEdit:
    starred_ids = {image_id(index) for index in array_indices}

    def edit(target: list[TargetImage]) -> list[TargetImage]:
        return [replace(t, thumbnail=t.id in starred_ids) for t in target]

    return edit


def hide(array_index: int) -> TargetEdit:
    def edit(target: list[TargetImage]) -> list[TargetImage]:
        return [replace(t, enabled=False) if t.id == image_id(array_index) else t for t in target]

    return edit


@dataclass(frozen=True)
class Case:
    label: str
    orderings: tuple[int, ...]
    edits: tuple[TargetEdit, ...]
    calls: int
    changes: int
    starred: tuple[int, ...] = ()
    expected_bodies: dict[str, dict[str, object]] = field(default_factory=dict)


DENSE_10 = tuple(range(10))
FROM_ONE_200 = tuple(range(1, 201))

CASES = [
    Case("nothing changed", DENSE_10, (), calls=0, changes=0),
    Case("nothing changed with ties", (0,) * 6, (), calls=0, changes=0),
    Case("nothing changed unsorted", (7, 3, 3, 0, 9), (), calls=0, changes=0),
    Case(
        "last of 200 to front, values from 1",
        FROM_ONE_200,
        (move(199, 0),),
        calls=1,
        changes=1,
        expected_bodies={image_id(199): {"ordering": 0}},
    ),
    Case(
        "last of 200 to front, values from 0",
        tuple(range(200)),
        (move(199, 0),),
        calls=199,
        changes=199,
    ),
    Case(
        "last to front with gaps from 10",
        tuple(range(10, 101, 10)),
        (move(9, 0),),
        calls=1,
        changes=1,
        expected_bodies={image_id(9): {"ordering": 4}},
    ),
    Case(
        "last to front with gaps from 0",
        tuple(range(0, 100, 10)),
        (move(9, 0),),
        calls=2,
        changes=2,
    ),
    Case(
        "first to back",
        DENSE_10,
        (move(0, 9),),
        calls=1,
        changes=1,
        expected_bodies={image_id(0): {"ordering": 10}},
    ),
    Case("middle towards front", DENSE_10, (move(7, 2),), calls=6, changes=6),
    Case("middle towards back", DENSE_10, (move(5, 7),), calls=3, changes=3),
    # With one free value below the first image, the eight others must go behind the two.
    Case(
        "two to the front, values from 1",
        FROM_ONE_200[:10],
        (move(9, 0), move(9, 0)),
        calls=8,
        changes=8,
    ),
    Case(
        "two to the front, values from 2",
        tuple(range(2, 12)),
        (move(9, 0), move(9, 0)),
        calls=2,
        changes=2,
    ),
    Case(
        "two to the front, gaps from 10",
        tuple(range(10, 101, 10)),
        (move(9, 0), move(9, 0)),
        calls=2,
        changes=2,
    ),
    Case("two to the back", DENSE_10, (move(0, -1), move(0, -1)), calls=2, changes=2),
    Case(
        "into a gap",
        (0, 10, 20, 30),
        (move(3, 1),),
        calls=1,
        changes=1,
        expected_bodies={image_id(3): {"ordering": 5}},
    ),
    Case("reversal", DENSE_10, (reverse,), calls=9, changes=9),
    Case("reversal with gaps", tuple(range(0, 50, 5)), (reverse,), calls=9, changes=9),
    Case("shuffle", DENSE_10, (shuffle(3),), calls=-1, changes=-1),
    Case("ties at 0, last to front", (0,) * 5, (move(4, 0),), calls=4, changes=4),
    Case("ties at 0, swap first two", (0,) * 5, (move(1, 0),), calls=4, changes=4),
    Case("ties among gaps", (0, 5, 5, 5, 20), (move(3, 1),), calls=2, changes=2),
    Case("unsorted values, first to back", (30, 10, 20, 0), (move(0, 3),), calls=1, changes=1),
    Case("unsorted values, last to front", (30, 10, 20, 0), (move(3, 0),), calls=2, changes=2),
    Case("negative server value", (-1, 0, 1, 2), (move(0, 3),), calls=1, changes=1),
    Case(
        "rename alone",
        DENSE_10,
        (rename(4, "Front view"),),
        calls=1,
        changes=0,
        expected_bodies={image_id(4): {"name": "Front view"}},
    ),
    # Moving image 2 behind image 3 keeps either images 0, 1, 3 or images 0, 1, 4 at equal
    # ordering cost, so the plan keeps the set that leaves the renamed image to change.
    Case(
        "rename alongside move",
        (0, 1, 2, 3, 4),
        (move(2, 3), rename(4, "Back")),
        calls=2,
        changes=2,
    ),
    Case(
        "rename other alongside move",
        (0, 1, 2, 3, 4),
        (move(2, 3), rename(3, "Side")),
        calls=2,
        changes=2,
    ),
    Case(
        "hide alongside move to front",
        FROM_ONE_200[:5],
        (move(4, 0), hide(4)),
        calls=1,
        changes=1,
        expected_bodies={image_id(4): {"enabled": False, "ordering": 0}},
    ),
    Case(
        "star moves",
        DENSE_10,
        (set_stars(3),),
        starred=(0,),
        calls=1,
        changes=0,
        expected_bodies={image_id(3): {"thumbnail": True}},
    ),
    Case(
        "star set with none before",
        DENSE_10,
        (set_stars(3),),
        calls=1,
        changes=0,
        expected_bodies={image_id(3): {"thumbnail": True}},
    ),
    Case(
        "star cleared",
        DENSE_10,
        (set_stars(),),
        starred=(2,),
        calls=1,
        changes=0,
        expected_bodies={image_id(2): {"thumbnail": False}},
    ),
    Case(
        "star moves with the image",
        FROM_ONE_200[:5],
        (move(4, 0), set_stars(4)),
        starred=(0,),
        calls=1,
        changes=1,
        expected_bodies={image_id(4): {"thumbnail": True, "ordering": 0}},
    ),
    Case(
        "two stars, keep one",
        DENSE_10,
        (set_stars(1),),
        starred=(1, 5),
        calls=1,
        changes=0,
    ),
    Case(
        "two stars, keep one, other renamed",
        DENSE_10,
        (set_stars(1), rename(5, "Detail")),
        starred=(1, 5),
        calls=1,
        changes=0,
        expected_bodies={image_id(5): {"name": "Detail", "thumbnail": False}},
    ),
    Case("two stars, clear both", DENSE_10, (set_stars(),), starred=(1, 5), calls=2, changes=0),
    Case(
        "two stars, star a third",
        DENSE_10,
        (set_stars(7),),
        starred=(1, 5),
        calls=1,
        changes=0,
        expected_bodies={image_id(7): {"thumbnail": True}},
    ),
    Case(
        "three stars, keep two",
        DENSE_10,
        (set_stars(1, 5),),
        starred=(1, 5, 8),
        calls=1,
        changes=0,
        expected_bodies={image_id(8): {"thumbnail": False}},
    ),
]


def build_target(case: Case, product: Product) -> list[TargetImage]:
    target = unchanged_target(product)
    for edit in case.edits:
        target = edit(target)
    return target


def assert_server_matches(server: SimulatedServer, target: Sequence[TargetImage]) -> None:
    assert server.display_order() == [t.id for t in target]
    final = {image.id: image for image in server.product().images}
    for target_image in target:
        assert final[target_image.id].name == target_image.name, target_image.id
        assert final[target_image.id].thumbnail == target_image.thumbnail, target_image.id
        assert final[target_image.id].enabled == target_image.enabled, target_image.id


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_plan_table(case: Case) -> None:
    product = make_product(case.orderings, case.starred)
    target = build_target(case, product)
    plan = plan_patches(product, target)

    if case.calls >= 0:
        assert len(plan) == case.calls
        assert ordering_changes(plan) == case.changes
    bodies = {patch.image_id: patch.body for patch in plan}
    for expected_id, expected_body in case.expected_bodies.items():
        assert bodies.get(expected_id) == expected_body
    server = SimulatedServer(product)
    server.apply_all(plan)
    assert_server_matches(server, target)


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_plan_table_invariants(case: Case) -> None:
    product = make_product(case.orderings, case.starred)
    target = build_target(case, product)
    plan = plan_patches(product, target)
    current = {image.id: image.ordering for image in product.images}

    position = {t.id: index for index, t in enumerate(target)}
    assert [position[p.image_id] for p in plan] == sorted(position[p.image_id] for p in plan)
    for patch in plan:
        assert patch.body
        if "ordering" in patch.body:
            assert patch.body["ordering"] != current[patch.image_id]
            assert patch.body["ordering"] >= 0  # type: ignore[operator]
    if ordering_changes(plan):
        server = SimulatedServer(product)
        server.apply_all(plan)
        final = {image.id: image.ordering for image in server.product().images}
        values = [final[t.id] for t in target]
        assert all(low < high for low, high in zip(values, values[1:]))


def test_unchanged_order_with_ties_sends_nothing() -> None:
    product = make_product((0, 0, 0, 4, 4))
    target = unchanged_target(product)
    target[0] = replace(target[0], enabled=False)

    plan = plan_patches(product, target)

    assert plan == [Patch(image_id(0), {"enabled": False})]


def test_free_image_takes_the_change() -> None:
    # Moving image 2 behind image 3 keeps either images 0, 1, 3 or images 0, 1, 4 at equal
    # ordering cost. Renaming image 4 makes the first choice one call cheaper.
    product = make_product((0, 1, 2, 3, 4))
    target = move(2, 3)(unchanged_target(product))
    target = rename(4, "Back")(target)

    plan = plan_patches(product, target)

    assert {patch.image_id for patch in plan} == {image_id(2), image_id(4)}
    assert plan[-1].body["name"] == "Back"


def test_gap_values_spread_evenly() -> None:
    # Display order a(0) b(100) f(200) c d e(1000 each). Moving c, d and e between a and b
    # keeps a, b and f, and the three moved images share the gap (0, 100) evenly.
    product = make_product((0, 100, 1000, 1000, 1000, 200))
    by_id = {t.id: t for t in unchanged_target(product)}
    target = [by_id[image_id(index)] for index in (0, 2, 3, 4, 1, 5)]

    plan = plan_patches(product, target)

    assert {patch.image_id: patch.body for patch in plan} == {
        image_id(2): {"ordering": 25},
        image_id(3): {"ordering": 50},
        image_id(4): {"ordering": 75},
    }


@pytest.mark.parametrize(
    "edit",
    [lambda t: t[:-1], lambda t: t + [t[0]], lambda t: t[:-1] + [replace(t[-1], id="other")]],
    ids=["missing", "duplicate", "unknown"],
)
def test_plan_rejects_mismatched_ids(edit: TargetEdit) -> None:
    product = make_product(DENSE_10)

    with pytest.raises(ValueError, match="do not match the images of product product-1"):
        plan_patches(product, edit(unchanged_target(product)))
    with pytest.raises(ValueError, match="do not match"):
        dense_ordering_patches(product, edit(unchanged_target(product)))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, "cannot be set back to null"),
        ("  ", "invalid name"),
        (" Padded ", "surrounding whitespace"),
        ("x" * 256, "invalid name"),
    ],
)
def test_plan_rejects_invalid_names(name: str | None, message: str) -> None:
    product = make_product(DENSE_10)
    target = unchanged_target(product)
    target[2] = replace(target[2], name=name)

    with pytest.raises(ValueError, match=message):
        plan_patches(product, target)


def test_plan_keeps_null_name_unchanged() -> None:
    product = make_product(DENSE_10)
    images = list(product.images)
    images[2] = replace(images[2], name=None)
    product = product.with_images(tuple(images))
    target = unchanged_target(product)

    assert plan_patches(product, target) == []


def test_plan_rejects_two_new_stars() -> None:
    product = make_product(DENSE_10, starred=(1,))
    target = set_stars(1, 2)(unchanged_target(product))

    with pytest.raises(ValueError, match="Star one image"):
        plan_patches(product, target)


def test_patch_rejects_empty_body() -> None:
    with pytest.raises(ValueError, match="empty body"):
        Patch("img", {})


def test_patch_rejects_unknown_field() -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        Patch("img", {"image": "x.png"})


def test_plan_empty_product() -> None:
    product = make_product(())

    assert plan_patches(product, []) == []
    assert dense_ordering_patches(product, []) == []


@pytest.mark.parametrize("semantics", ["value", "position"])
@pytest.mark.parametrize(
    "case",
    [case for case in CASES if not case.starred],
    ids=[case.label for case in CASES if not case.starred],
)
def test_dense_fallback_table(case: Case, semantics: str) -> None:
    product = make_product(case.orderings, case.starred)
    target = build_target(case, product)
    server = SimulatedServer(product, semantics)  # type: ignore[arg-type]

    plan = dense_ordering_patches(product, target)

    assert [patch.image_id for patch in plan] == [t.id for t in target]
    assert [patch.body for patch in plan] == [{"ordering": index} for index in range(len(target))]
    server.apply_all(plan)
    assert server.display_order() == [t.id for t in target]


@pytest.mark.timeout(30)
def test_plan_ten_thousand_images() -> None:
    count = 10_000
    product = make_product(tuple(range(10, 10 * count + 1, 10)))
    target = unchanged_target(product)
    for source, destination in [(count - 1, 0), (5_000, 17), (42, count - 1), (9_000, 3_000)]:
        target = move(source, destination)(target)

    plan = plan_patches(product, target)

    server = SimulatedServer(product)
    server.apply_all(plan)
    assert server.display_order() == [t.id for t in target]
    assert len(plan) == 4


@pytest.mark.timeout(30)
def test_plan_ten_thousand_shuffled_with_ties() -> None:
    count = 10_000
    rng = random.Random(7)
    product = make_product(tuple(rng.randrange(0, 50) for _ in range(count)))
    target = shuffle(11)(unchanged_target(product))

    plan = plan_patches(product, target)

    server = SimulatedServer(product)
    server.apply_all(plan)
    assert server.display_order() == [t.id for t in target]
