"""The gallery working copy: moves, renames, star, enabled flags, undo data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gallery_editor.domain.gallery import (
    FieldsChanged,
    Gallery,
    InvalidEdit,
    InvalidName,
    OrderChanged,
    edit_from_json,
    edit_to_json,
    validate_name,
)
from gallery_editor.domain.models import Product, ProductImage


def make_product(count: int = 5, *, star: int | None = 1, orderings=None) -> Product:
    values = orderings if orderings is not None else list(range(1, count + 1))
    images = tuple(
        ProductImage(str(i), f"n{i}", f"media/{i}.jpg", values[i - 1], i == star, True)
        for i in range(1, count + 1)
    )
    return Product("p", "Product", images)


def order_after_move(ids: list[str], row: int, count: int = 5) -> str:
    gallery = Gallery(make_product(count))
    edit = gallery.make_move(ids, row)
    if edit is not None:
        gallery.apply(edit)
    return "".join(gallery.order)


MOVE_CASES = [
    # (moved ids, destination row, resulting order)
    (["1"], 0, "12345"),
    (["1"], 1, "12345"),
    (["1"], 2, "21345"),
    (["1"], 5, "23451"),
    (["5"], 0, "51234"),
    (["5"], 5, "12345"),
    (["5"], 4, "12345"),
    (["3"], 1, "13245"),
    (["3"], 4, "12435"),
    (["2", "4"], 5, "13524"),
    (["4", "2"], 5, "13524"),
    (["2", "4"], 0, "24135"),
    (["2", "4"], 3, "13245"),
    (["1", "2"], 0, "12345"),
    (["1", "2"], 2, "12345"),
    (["1", "2", "3", "4", "5"], 2, "12345"),
    (["1", "5"], 3, "23154"),
]


@pytest.mark.parametrize(("ids", "row", "expected"), MOVE_CASES)
def test_move_to_row(ids: list[str], row: int, expected: str) -> None:
    """A move inserts the images, in their current relative order, before the row."""
    assert order_after_move(ids, row) == expected


@pytest.mark.parametrize(("ids", "row"), [(["1"], 0), (["5"], 5), (["1", "2"], 2)])
def test_noop_move_builds_nothing(ids: list[str], row: int) -> None:
    """A move that changes nothing gives no edit, so no undo step."""
    assert Gallery(make_product()).make_move(ids, row) is None


def test_move_rejects_bad_row_and_ids() -> None:
    """Rows outside 0..n and unknown ids are rejected."""
    gallery = Gallery(make_product())
    with pytest.raises(InvalidEdit):
        gallery.make_move(["1"], 6)
    with pytest.raises(InvalidEdit):
        gallery.make_move(["nope"], 0)


SHIFT_CASES = [
    (["3"], -1, "13245"),
    (["3"], 1, "12435"),
    (["1"], -1, None),
    (["5"], 1, None),
    (["2", "4"], -1, "21435"),
    (["2", "4"], 1, "13254"),
    (["1", "3"], -1, "13245"),
    (["4", "5"], 1, None),
]


@pytest.mark.parametrize(("ids", "step", "expected"), SHIFT_CASES)
def test_shift_selection(ids: list[str], step: int, expected: str | None) -> None:
    """Each selected block moves one place; a block at the edge stays."""
    gallery = Gallery(make_product())
    edit = gallery.make_shift(ids, step)  # type: ignore[arg-type]
    if expected is None:
        assert edit is None
        return
    assert edit is not None
    gallery.apply(edit)
    assert "".join(gallery.order) == expected


def test_moved_images_count_only_what_moved() -> None:
    """Moving the last image to the front counts one changed image, not five."""
    gallery = Gallery(make_product())
    gallery.apply(gallery.make_move(["5"], 0))
    assert gallery.moved_image_ids() == {"5"}
    assert gallery.changed_image_ids() == {"5"}


def test_moved_images_prefer_what_the_user_moved() -> None:
    """Swapping neighbours by moving the first one marks the first one as moved."""
    gallery = Gallery(make_product())
    gallery.apply(gallery.make_move(["1"], 2))
    assert gallery.moved_image_ids() == {"1"}


def test_multi_move_text_and_count() -> None:
    """A move of two images is one edit named for two images."""
    gallery = Gallery(make_product())
    edit = gallery.make_move(["2", "4"], 5)
    assert edit is not None
    assert edit.text == "Move 2 images"
    gallery.apply(edit)
    assert gallery.moved_image_ids() == {"2", "4"}


def test_star_is_exclusive() -> None:
    """Starring an image clears the star everywhere else."""
    gallery = Gallery(make_product(star=1))
    gallery.apply(gallery.make_toggle_thumbnail("3"))
    stars = [image_id for image_id in gallery.order if gallery.fields(image_id).thumbnail]
    assert stars == ["3"]


def test_star_click_on_thumbnail_clears_it() -> None:
    """Clicking the current thumbnail's star leaves no thumbnail."""
    gallery = Gallery(make_product(star=2))
    edit = gallery.make_toggle_thumbnail("2")
    assert edit.text == "Clear thumbnail"
    gallery.apply(edit)
    assert gallery.thumbnail_id() is None


def test_star_fixes_several_server_stars() -> None:
    """Inconsistent server data with two stars ends with exactly the chosen one."""
    images = tuple(
        ProductImage(str(i), f"n{i}", "x", i, i in (1, 2), True) for i in range(1, 4)
    )
    gallery = Gallery(Product("p", "P", images))
    gallery.apply(gallery.make_toggle_thumbnail("3"))
    assert [i for i in gallery.order if gallery.fields(i).thumbnail] == ["3"]


NAME_CASES = [
    ("Front view", "Front view"),
    ("  padded  ", "padded"),
    ("x" * 255, "x" * 255),
    ("Überzieher – grün", "Überzieher – grün"),
]


@pytest.mark.parametrize(("raw", "expected"), NAME_CASES)
def test_valid_names(raw: str, expected: str) -> None:
    """Valid names are kept without surrounding whitespace."""
    assert validate_name(raw) == expected


INVALID_NAME_CASES = [
    ("", "empty"),
    ("   ", "empty"),
    ("tab\there", "control characters"),
    ("line\nbreak", "control characters"),
    ("x" * 256, "at most 255"),
]


@pytest.mark.parametrize(("raw", "reason"), INVALID_NAME_CASES)
def test_invalid_names(raw: str, reason: str) -> None:
    """Empty, control characters and over-long names are rejected with the reason."""
    with pytest.raises(InvalidName, match=reason):
        validate_name(raw)


def test_rename_keeps_old_name_when_rejected() -> None:
    """A rejected rename leaves the old name in place."""
    gallery = Gallery(make_product())
    with pytest.raises(InvalidName):
        gallery.make_rename("1", "")
    assert gallery.fields("1").name == "n1"


def test_rename_text_and_noop() -> None:
    """A rename is named after the new name; renaming to the same name is nothing."""
    gallery = Gallery(make_product())
    edit = gallery.make_rename("1", " Front view ")
    assert edit is not None
    assert edit.text == "Rename to 'Front view'"
    assert gallery.make_rename("1", "n1 ") is None


def test_set_enabled_many() -> None:
    """Hiding several images is one edit that skips those already hidden."""
    gallery = Gallery(make_product())
    gallery.apply(gallery.make_set_enabled(["2"], False))
    edit = gallery.make_set_enabled(["1", "2", "3"], False)
    assert edit is not None
    assert edit.text == "Hide 2 images"
    gallery.apply(edit)
    assert [gallery.fields(i).enabled for i in "12345"] == [False, False, False, True, True]


def test_events_reach_subscribers() -> None:
    """Order and field changes are announced to subscribers."""
    gallery = Gallery(make_product())
    events = []
    unsubscribe = gallery.subscribe(events.append)
    gallery.apply(gallery.make_move(["5"], 0))
    gallery.apply(gallery.make_rename("1", "Front"))
    unsubscribe()
    gallery.apply(gallery.make_rename("1", "Back"))
    assert isinstance(events[0], OrderChanged)
    assert events[1] == FieldsChanged(frozenset({"1"}))
    assert len(events) == 2


def test_discard_all_restores_server_state() -> None:
    """Discarding every change brings back the snapshot's order and fields."""
    gallery = Gallery(make_product())
    for edit in [
        gallery.make_move(["2", "4"], 5),
        gallery.make_rename("3", "Three"),
        gallery.make_toggle_thumbnail("5"),
    ]:
        gallery.apply(edit)
    for edit in gallery.make_discard_all():
        gallery.apply(edit)
    assert not gallery.is_modified()


def test_ties_keep_server_array_order() -> None:
    """Images at the same ordering show in the order the server sent them."""
    gallery = Gallery(make_product(orderings=[0, 0, 0, 1, 0]))
    assert gallery.order == ("1", "2", "3", "5", "4")
    assert not gallery.is_modified()


def test_state_round_trip() -> None:
    """A working state saved as JSON data rebuilds the same gallery."""
    gallery = Gallery(make_product())
    gallery.apply(gallery.make_move(["1"], 5))
    gallery.apply(gallery.make_rename("2", "Two"))
    rebuilt = Gallery.from_state(gallery.snapshot, gallery.state_to_json())
    assert rebuilt.order == gallery.order
    assert rebuilt.target() == gallery.target()
    assert rebuilt.moved_image_ids() == gallery.moved_image_ids()


def test_edit_json_round_trip() -> None:
    """Edits encoded for the journal decode to equal edits."""
    gallery = Gallery(make_product())
    edits = [
        gallery.make_move(["2", "4"], 0),
        gallery.make_rename("1", "Front"),
        gallery.make_toggle_thumbnail("3"),
        gallery.make_set_enabled(["1", "5"], False),
    ]
    for edit in edits:
        assert edit_from_json(edit_to_json(edit)) == edit


def test_malformed_edit_json_rejected() -> None:
    """Malformed journal data raises InvalidEdit, not KeyError."""
    with pytest.raises(InvalidEdit):
        edit_from_json({"type": "fields"})


def test_stale_edit_is_rejected() -> None:
    """An edit built for another state is refused instead of corrupting the order."""
    gallery = Gallery(make_product())
    first = gallery.make_move(["1"], 5)
    second = gallery.make_move(["2"], 5)
    gallery.apply(first)
    with pytest.raises(InvalidEdit):
        gallery.apply(second)


edit_actions = st.lists(
    st.tuples(
        st.sampled_from(["move", "shift", "rename", "star", "enable"]),
        st.lists(st.integers(0, 11), min_size=1, max_size=4),
        st.integers(0, 12),
        st.booleans(),
        st.text(max_size=8),
    ),
    max_size=25,
)


@given(
    count=st.integers(1, 12),
    orderings=st.lists(st.integers(0, 5), min_size=12, max_size=12),
    actions=edit_actions,
)
def test_random_edits_undo_to_server_state(count, orderings, actions) -> None:
    """Any sequence of edits, undone in reverse, gives back the server state exactly."""
    gallery = Gallery(make_product(count, orderings=orderings[:count], star=2))
    start_order, start_target = gallery.order, gallery.target()
    applied = []
    for kind, picks, row, flag, text in actions:
        ids = sorted({gallery.order[pick % count] for pick in picks})
        try:
            if kind == "move":
                edit = gallery.make_move(ids, row % (count + 1))
            elif kind == "shift":
                edit = gallery.make_shift(ids, -1 if flag else 1)
            elif kind == "rename":
                edit = gallery.make_rename(ids[0], text)
            elif kind == "star":
                edit = gallery.make_toggle_thumbnail(ids[0])
            else:
                edit = gallery.make_set_enabled(ids, flag)
        except InvalidName:
            continue
        if edit is None:
            continue
        gallery.apply(edit)
        applied.append(edit)
        assert sorted(gallery.order) == sorted(start_order)
    for edit in reversed(applied):
        gallery.revert(edit)
    assert gallery.order == start_order
    assert gallery.target() == start_target
    assert not gallery.is_modified()
    assert gallery.changed_image_ids() == frozenset()


def test_domain_imports_without_qt() -> None:
    """The domain layer works with PySide6 made unimportable."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'PySide6' or name.startswith('PySide6.'):\n"
        "            raise ImportError('PySide6 is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import gallery_editor.domain.gallery, gallery_editor.domain.models\n"
        "import importlib\n"
        "for name in ('planner', 'review', 'conflicts', 'arrangement'):\n"
        "    try:\n"
        "        importlib.import_module('gallery_editor.domain.' + name)\n"
        "    except ModuleNotFoundError as error:\n"
        "        if error.name != 'gallery_editor.domain.' + name:\n"
        "            raise\n"
        "from gallery_editor.domain.gallery import Gallery\n"
        "from gallery_editor.domain.models import Product\n"
        "Gallery(Product('p', 'P'))\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
