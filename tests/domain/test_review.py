"""Plain-words review of pending changes, single-change reverts, warnings and request counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gallery_editor.domain.conflicts import ServerUpdate
from gallery_editor.domain.gallery import FIELD_NAMES, Gallery, ImageFields
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.domain.planner import plan_patches
from gallery_editor.domain.review import (
    DASHBOARD_IMAGE_LIMIT,
    ChangeLine,
    RevertTarget,
    describe_changes,
    patch_count,
    revert_edit,
    warnings,
)


def make_product(count: int = 5, *, star: int | None = 1, hidden: tuple[int, ...] = ()) -> Product:
    images = tuple(
        ProductImage(
            str(i), f"IMG_{i:04d}.jpg", f"media/{i}.jpg", i * 10, i == star, i not in hidden
        )
        for i in range(1, count + 1)
    )
    return Product("p", "Product", images)


def move(gallery: Gallery, ids: list[str], row: int) -> None:
    edit = gallery.make_move(ids, row)
    assert edit is not None, f"moving {ids} to row {row} changed nothing"
    gallery.apply(edit)


def rename(gallery: Gallery, image_id: str, name: str) -> None:
    edit = gallery.make_rename(image_id, name)
    assert edit is not None
    gallery.apply(edit)


def star(gallery: Gallery, image_id: str) -> None:
    gallery.apply(gallery.make_toggle_thumbnail(image_id))


def set_enabled(gallery: Gallery, ids: list[str], enabled: bool) -> None:
    edit = gallery.make_set_enabled(ids, enabled)
    assert edit is not None
    gallery.apply(edit)


def texts(
    gallery: Gallery, updates: tuple[ServerUpdate, ...] = ()
) -> list[tuple[str, str, list[str]]]:
    return [
        (review.image_id, review.display_name, [line.text for line in review.changes])
        for review in describe_changes(gallery, updates)
    ]


Step = Callable[[Gallery], None]

DESCRIBE_CASES: list[tuple[str, list[Step], list[tuple[str, str, list[str]]]]] = [
    ("no edits", [], []),
    (
        "last to first",
        [lambda g: move(g, ["5"], 0)],
        [("5", "IMG_0005.jpg", ["Moved from position 5 to 1"])],
    ),
    (
        "first to end",
        [lambda g: move(g, ["1"], 5)],
        [("1", "IMG_0001.jpg", ["Moved from position 1 to 5"])],
    ),
    (
        "two moved together",
        [lambda g: move(g, ["2", "4"], 5)],
        [
            ("2", "IMG_0002.jpg", ["Moved from position 2 to 4"]),
            ("4", "IMG_0004.jpg", ["Moved from position 4 to 5"]),
        ],
    ),
    (
        "moved and moved back",
        [lambda g: move(g, ["3"], 0), lambda g: move(g, ["3"], 3)],
        [],
    ),
    (
        "rename",
        [lambda g: rename(g, "2", "Front view")],
        [("2", "Front view", ["Renamed 'IMG_0002.jpg' to 'Front view'"])],
    ),
    (
        "star moves",
        [lambda g: star(g, "3")],
        [
            ("1", "IMG_0001.jpg", ["No longer the thumbnail"]),
            ("3", "IMG_0003.jpg", ["Set as thumbnail"]),
        ],
    ),
    (
        "star cleared",
        [lambda g: star(g, "1")],
        [("1", "IMG_0001.jpg", ["No longer the thumbnail"])],
    ),
    (
        "hide two",
        [lambda g: set_enabled(g, ["2", "3"], False)],
        [("2", "IMG_0002.jpg", ["Hidden"]), ("3", "IMG_0003.jpg", ["Hidden"])],
    ),
    (
        "moved renamed hidden",
        [
            lambda g: move(g, ["4"], 0),
            lambda g: rename(g, "4", "Back"),
            lambda g: set_enabled(g, ["4"], False),
        ],
        [
            (
                "4",
                "Back",
                ["Moved from position 4 to 1", "Renamed 'IMG_0004.jpg' to 'Back'", "Hidden"],
            )
        ],
    ),
    (
        "working order of entries",
        [lambda g: rename(g, "1", "A"), lambda g: move(g, ["1"], 5)],
        [("1", "A", ["Moved from position 1 to 5", "Renamed 'IMG_0001.jpg' to 'A'"])],
    ),
    (
        "entries follow working order",
        [lambda g: rename(g, "2", "B"), lambda g: rename(g, "5", "E"), lambda g: move(g, ["5"], 0)],
        [
            ("5", "E", ["Moved from position 5 to 1", "Renamed 'IMG_0005.jpg' to 'E'"]),
            ("2", "B", ["Renamed 'IMG_0002.jpg' to 'B'"]),
        ],
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [case[1:] for case in DESCRIBE_CASES],
    ids=[case[0] for case in DESCRIBE_CASES],
)
def test_describe_changes(steps: list[Step], expected: list[tuple[str, str, list[str]]]) -> None:
    gallery = Gallery(make_product())
    for step in steps:
        step(gallery)
    assert texts(gallery) == expected


def test_describe_shown_image() -> None:
    gallery = Gallery(make_product(hidden=(3,)))
    set_enabled(gallery, ["3"], True)
    assert texts(gallery) == [("3", "IMG_0003.jpg", ["Shown"])]


def test_describe_null_name() -> None:
    product = make_product(3)
    images = (product.images[0].with_changes(name=None),) + product.images[1:]
    gallery = Gallery(product.with_images(images))
    assert describe_changes(gallery) == []
    rename(gallery, "1", "Front")
    assert texts(gallery) == [("1", "Front", ["Renamed (no name) to 'Front'"])]


def test_describe_positions_and_revert_targets() -> None:
    gallery = Gallery(make_product())
    move(gallery, ["5"], 0)
    rename(gallery, "5", "Five")
    [review] = describe_changes(gallery)
    assert review.position == 1
    assert [line.kind for line in review.changes] == ["move", "name"]
    assert [line.revert for line in review.changes] == [
        RevertTarget("5", "position"),
        RevertTarget("5", "name"),
    ]


SERVER_UPDATE_CASES = [
    (
        ServerUpdate("2", "name", "IMG_0002.jpg", "Side"),
        "Updated on the server: name is now 'Side'",
    ),
    (
        ServerUpdate("2", "name", "IMG_0002.jpg", None),
        "Updated on the server: name is now (no name)",
    ),
    (ServerUpdate("2", "thumbnail", False, True), "Updated on the server: now the thumbnail"),
    (ServerUpdate("2", "thumbnail", True, False), "Updated on the server: no longer the thumbnail"),
    (ServerUpdate("2", "enabled", True, False), "Updated on the server: now hidden"),
    (ServerUpdate("2", "enabled", False, True), "Updated on the server: now shown"),
    (
        ServerUpdate("2", "ordering", 20, 99),
        "Updated on the server: its place in the order changed",
    ),
]


@pytest.mark.parametrize(("update", "text"), SERVER_UPDATE_CASES)
def test_describe_server_update(update: ServerUpdate, text: str) -> None:
    gallery = Gallery(make_product())
    [review] = describe_changes(gallery, [update])
    assert review.image_id == "2"
    assert [line.text for line in review.changes] == [text]
    assert review.changes[0].kind == "server"
    assert review.changes[0].revert is None


def test_server_update_after_own_lines() -> None:
    gallery = Gallery(make_product())
    set_enabled(gallery, ["4"], False)
    rename(gallery, "2", "Mine")
    updates = (ServerUpdate("4", "name", "IMG_0004.jpg", "Theirs"),)
    assert texts(gallery, updates) == [
        ("2", "Mine", ["Renamed 'IMG_0002.jpg' to 'Mine'"]),
        ("4", "IMG_0004.jpg", ["Hidden", "Updated on the server: name is now 'Theirs'"]),
    ]


def test_server_update_unknown_image() -> None:
    gallery = Gallery(make_product(3))
    [review] = describe_changes(gallery, [ServerUpdate("77", "enabled", True, False)])
    assert review.image_id == "77"
    assert review.position == 0
    assert [line.text for line in review.changes] == ["Updated on the server: now hidden"]


# -- revert_edit ------------------------------------------------------------------------


def server_fields(gallery: Gallery, image_id: str) -> ImageFields:
    return ImageFields.of(gallery.server_image(image_id))


def revert_line(gallery: Gallery, image_id: str, kind: str) -> None:
    [line] = [
        line
        for review in describe_changes(gallery)
        if review.image_id == image_id
        for line in review.changes
        if line.kind == kind
    ]
    edit = revert_edit(gallery, line)
    assert edit is not None, f"no revert for {kind} of image {image_id}"
    gallery.apply(edit)


FIELD_REVERT_CASES: list[tuple[str, list[Step], str, str]] = [
    ("rename", [lambda g: rename(g, "2", "New")], "2", "name"),
    ("hide", [lambda g: set_enabled(g, ["3"], False)], "3", "enabled"),
    ("new star", [lambda g: star(g, "4")], "4", "thumbnail"),
    ("old star", [lambda g: star(g, "4")], "1", "thumbnail"),
    ("cleared star", [lambda g: star(g, "1")], "1", "thumbnail"),
    (
        "rename among others",
        [
            lambda g: rename(g, "2", "New"),
            lambda g: rename(g, "3", "Other"),
            lambda g: move(g, ["2"], 5),
        ],
        "2",
        "name",
    ),
]


@pytest.mark.parametrize(
    ("steps", "image_id", "field"),
    [case[1:] for case in FIELD_REVERT_CASES],
    ids=[case[0] for case in FIELD_REVERT_CASES],
)
def test_revert_field(steps: list[Step], image_id: str, field: str) -> None:
    gallery = Gallery(make_product())
    for step in steps:
        step(gallery)
    others_before = {
        other: gallery.fields(other) for other in gallery.order if other != image_id
    }
    order_before = gallery.order
    revert_line(gallery, image_id, field)
    server_value = getattr(server_fields(gallery, image_id), field)
    assert getattr(gallery.fields(image_id), field) == server_value
    assert gallery.order == order_before
    for other, fields in others_before.items():
        if field != "thumbnail":
            assert gallery.fields(other) == fields
    assert all(
        line.revert != RevertTarget(image_id, field)
        for review in describe_changes(gallery)
        for line in review.changes
    )


def test_revert_star_restores_both() -> None:
    gallery = Gallery(make_product())
    star(gallery, "4")
    revert_line(gallery, "4", "thumbnail")
    assert gallery.thumbnail_id() == "1"
    assert describe_changes(gallery) == []


MOVE_REVERT_CASES: list[tuple[str, list[Step], str]] = [
    ("only move, to front", [lambda g: move(g, ["5"], 0)], "5"),
    ("only move, to end", [lambda g: move(g, ["1"], 5)], "1"),
    ("only move, middle", [lambda g: move(g, ["2"], 4)], "2"),
    ("block, first of two", [lambda g: move(g, ["1", "2"], 5)], "1"),
    ("block, second of two", [lambda g: move(g, ["1", "2"], 5)], "2"),
    ("two moves, earlier", [lambda g: move(g, ["5"], 0), lambda g: move(g, ["2"], 5)], "5"),
    ("two moves, later", [lambda g: move(g, ["5"], 0), lambda g: move(g, ["2"], 5)], "2"),
    ("scattered", [lambda g: move(g, ["2", "4"], 0)], "4"),
    ("moved then renamed", [lambda g: move(g, ["3"], 0), lambda g: rename(g, "3", "X")], "3"),
]


@pytest.mark.parametrize(
    ("steps", "image_id"),
    [case[1:] for case in MOVE_REVERT_CASES],
    ids=[case[0] for case in MOVE_REVERT_CASES],
)
def test_revert_move(steps: list[Step], image_id: str) -> None:
    gallery = Gallery(make_product(6))
    for step in steps:
        step(gallery)
    moved_before = gallery.moved_image_ids()
    fields_before = {other: gallery.fields(other) for other in gallery.order}
    revert_line(gallery, image_id, "move")
    assert image_id not in gallery.moved_image_ids()
    assert gallery.moved_image_ids() <= moved_before - {image_id}
    assert {other: gallery.fields(other) for other in gallery.order} == fields_before
    if moved_before == {image_id}:
        assert gallery.order == gallery.server_order()


def test_revert_move_can_be_undone() -> None:
    gallery = Gallery(make_product())
    move(gallery, ["5"], 1)
    moved_order = gallery.order
    edit = revert_edit(gallery, RevertTarget("5", "position"))
    assert edit is not None
    gallery.apply(edit)
    assert gallery.order == gallery.server_order()
    gallery.revert(edit)
    assert gallery.order == moved_order
    assert gallery.moved_image_ids() == {"5"}


def test_revert_nothing_pending() -> None:
    gallery = Gallery(make_product())
    for field in ("position", *FIELD_NAMES):
        assert revert_edit(gallery, RevertTarget("2", field)) is None
    server_line = ChangeLine("server", "Updated on the server: now hidden", None)
    assert revert_edit(gallery, server_line) is None


def test_revert_unknown_image() -> None:
    gallery = Gallery(make_product(3))
    assert revert_edit(gallery, RevertTarget("99", "name")) is None


@given(
    moves=st.lists(
        st.tuples(st.lists(st.integers(0, 7), min_size=1, max_size=3), st.integers(0, 8)),
        min_size=1,
        max_size=6,
    ),
    pick=st.integers(0, 100),
)
def test_revert_move_any_order(moves: list[tuple[list[int], int]], pick: int) -> None:
    gallery = Gallery(make_product(8))
    for indexes, row in moves:
        edit = gallery.make_move([str(index + 1) for index in indexes], row)
        if edit is not None:
            gallery.apply(edit)
    moved = sorted(gallery.moved_image_ids())
    if not moved:
        return
    image_id = moved[pick % len(moved)]
    edit = revert_edit(gallery, RevertTarget(image_id, "position"))
    assert edit is not None
    gallery.apply(edit)
    assert image_id not in gallery.moved_image_ids()
    assert len(gallery.moved_image_ids()) == len(moved) - 1


# -- warnings -----------------------------------------------------------------------------


WARNING_CASES: list[tuple[str, Product, list[Step], list[str]]] = [
    ("clean", make_product(), [], []),
    (
        "no thumbnail",
        make_product(star=None),
        [],
        ["No image is the thumbnail; star one to give the product a thumbnail."],
    ),
    (
        "star cleared",
        make_product(),
        [lambda g: star(g, "1")],
        ["No image is the thumbnail; star one to give the product a thumbnail."],
    ),
    (
        "hidden thumbnail",
        make_product(),
        [lambda g: set_enabled(g, ["1"], False)],
        ["The thumbnail 'IMG_0001.jpg' is hidden; show it or star an image that is shown."],
    ),
    (
        "star moved to hidden",
        make_product(hidden=(3,)),
        [lambda g: star(g, "3")],
        ["The thumbnail 'IMG_0003.jpg' is hidden; show it or star an image that is shown."],
    ),
    (
        "all hidden",
        make_product(3, star=None),
        [lambda g: set_enabled(g, ["1", "2", "3"], False)],
        [
            "No image is the thumbnail; star one to give the product a thumbnail.",
            "Every image is hidden, so customers see no images; show at least one.",
        ],
    ),
    (
        "over the dashboard limit",
        make_product(DASHBOARD_IMAGE_LIMIT + 2),
        [],
        [
            f"This product has {DASHBOARD_IMAGE_LIMIT + 2} images, but Kelviq's dashboard "
            f"allows at most {DASHBOARD_IMAGE_LIMIT}, so it cannot manage this gallery."
        ],
    ),
    ("at the dashboard limit", make_product(DASHBOARD_IMAGE_LIMIT), [], []),
    (
        "empty product",
        make_product(0),
        [],
        ["This product has no images, so customers see no gallery."],
    ),
]


@pytest.mark.parametrize(
    ("product", "steps", "expected"),
    [case[1:] for case in WARNING_CASES],
    ids=[case[0] for case in WARNING_CASES],
)
def test_warnings(product: Product, steps: list[Step], expected: list[str]) -> None:
    gallery = Gallery(product)
    for step in steps:
        step(gallery)
    assert warnings(gallery) == expected


def test_warnings_several_stars() -> None:
    product = make_product(4)
    second_star = product.images[2].with_changes(thumbnail=True)
    images = product.images[:2] + (second_star,) + product.images[3:]
    gallery = Gallery(product.with_images(images))
    assert warnings(gallery) == [
        "2 images are marked as the thumbnail ('IMG_0001.jpg', 'IMG_0003.jpg'); "
        "star one of them to keep only that one."
    ]


# -- patch_count ----------------------------------------------------------------------------


PATCH_COUNT_STEPS: list[tuple[str, list[Step]]] = [
    ("no edits", []),
    ("one rename", [lambda g: rename(g, "2", "New")]),
    ("last to first", [lambda g: move(g, ["5"], 0)]),
    ("star and hide", [lambda g: star(g, "3"), lambda g: set_enabled(g, ["4", "5"], False)]),
    ("move and rename same image", [lambda g: move(g, ["2"], 5), lambda g: rename(g, "2", "B")]),
]


@pytest.mark.parametrize(
    "steps", [case[1] for case in PATCH_COUNT_STEPS], ids=[case[0] for case in PATCH_COUNT_STEPS]
)
def test_patch_count_matches_plan(steps: list[Step]) -> None:
    gallery = Gallery(make_product())
    for step in steps:
        step(gallery)
    count = patch_count(gallery)
    assert count == len(plan_patches(gallery.snapshot, gallery.target()))
    assert (count == 0) == (not gallery.is_modified())


def test_patch_count_known_values() -> None:
    gallery = Gallery(make_product())
    assert patch_count(gallery) == 0
    rename(gallery, "2", "New")
    assert patch_count(gallery) == 1
    move(gallery, ["2"], 5)
    assert patch_count(gallery) == 1
    set_enabled(gallery, ["3", "4"], False)
    assert patch_count(gallery) == 3
