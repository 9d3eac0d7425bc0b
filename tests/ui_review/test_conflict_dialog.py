"""The conflict dialog: a choice per conflict, OK only when complete, server notices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QListWidget, QPushButton, QWidget

from gallery_editor.domain.conflicts import FieldConflict, MergeResult, OrderConflict, merge
from gallery_editor.domain.gallery import Gallery
from gallery_editor.domain.models import Product
from gallery_editor.ui.conflict_dialog import ConflictDialog, moved_between

from review_support import make_product

Screenshot = Callable[[QWidget, str], Path]


def server_changed(base: Product, **changes: dict[str, object]) -> Product:
    """Return `base` with fields of some images changed, as another user would on the server."""
    images = tuple(
        image.with_changes(**changes[image.id]) if image.id in changes else image
        for image in base.images
    )
    return base.with_images(images)


def conflicting_merge() -> MergeResult:
    """Merge a user's edits with a server that changed a name, the star and the order too."""
    base = make_product(6)
    gallery = Gallery(base)
    for edit in (
        gallery.make_rename("2", "Front view"),
        gallery.make_toggle_thumbnail("3"),
        gallery.make_move(["6"], 0),
        gallery.make_set_enabled(["5"], False),
    ):
        assert edit is not None
        gallery.apply(edit)
    theirs = server_changed(
        base,
        **{
            "1": {"thumbnail": False, "ordering": 70},
            "2": {"name": "Front"},
            "4": {"thumbnail": True, "name": "Detail"},
        },
    )
    theirs = theirs.with_images(tuple(image for image in theirs.images if image.id != "5"))
    added = replace(theirs.images[0], id="7", name="New angle", ordering=80, thumbnail=False)
    theirs = theirs.with_images(theirs.images + (added,))
    return merge(base, gallery.target(), theirs)


@pytest.fixture
def merged() -> MergeResult:
    result = conflicting_merge()
    kinds = sorted(
        type(conflict).__name__ + ":" + getattr(conflict, "field", "")
        for conflict in result.conflicts
    )
    assert kinds == ["FieldConflict:name", "FieldConflict:thumbnail", "OrderConflict:"]
    return result


@pytest.fixture
def dialog(qtbot: QtBot, merged: MergeResult) -> ConflictDialog:
    widget = ConflictDialog(merged)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_dialog_starts_undecided(dialog: ConflictDialog, merged: MergeResult) -> None:
    assert not dialog.ok_button().isEnabled()
    assert dialog.resolutions() == {}
    for conflict in merged.conflicts:
        mine, theirs = dialog.choice_buttons(conflict.key)
        assert not mine.isChecked()
        assert not theirs.isChecked()


def test_dialog_ok_only_when_complete(
    qtbot: QtBot,
    dialog: ConflictDialog,
    merged: MergeResult,
) -> None:
    keys = [conflict.key for conflict in merged.conflicts]
    for position, key in enumerate(keys):
        assert not dialog.ok_button().isEnabled(), f"OK enabled after {position} choices"
        mine, theirs = dialog.choice_buttons(key)
        qtbot.mouseClick(theirs if position % 2 else mine, Qt.MouseButton.LeftButton)
    assert dialog.ok_button().isEnabled()
    expected = {key: ("theirs" if position % 2 else "mine") for position, key in enumerate(keys)}
    assert dialog.resolutions() == expected

    with qtbot.waitSignal(dialog.accepted, timeout=3000):
        qtbot.mouseClick(dialog.ok_button(), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.resolutions() == expected


def test_dialog_change_of_mind(qtbot: QtBot, dialog: ConflictDialog, merged: MergeResult) -> None:
    key = merged.conflicts[0].key
    mine, theirs = dialog.choice_buttons(key)
    qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(theirs, Qt.MouseButton.LeftButton)
    assert not mine.isChecked()
    assert dialog.resolutions() == {key: "theirs"}


@pytest.mark.parametrize(
    ("button_name", "choice"), [("keep_mine_all", "mine"), ("use_theirs_all", "theirs")]
)
def test_dialog_choice_for_all(
    qtbot: QtBot,
    dialog: ConflictDialog,
    merged: MergeResult,
    button_name: str,
    choice: str,
) -> None:
    qtbot.mouseClick(dialog.findChild(QPushButton, button_name), Qt.MouseButton.LeftButton)
    assert dialog.ok_button().isEnabled()
    assert dialog.resolutions() == {conflict.key: choice for conflict in merged.conflicts}


def test_dialog_resolutions_settle_merge(qtbot: QtBot, dialog: ConflictDialog) -> None:
    qtbot.mouseClick(dialog.findChild(QPushButton, "use_theirs_all"), Qt.MouseButton.LeftButton)
    first = conflicting_merge()
    base = make_product(6)
    again = merge(base, [*first.target], first.snapshot, resolutions=dialog.resolutions())
    assert not again.unresolved


def test_dialog_enter_needs_every_choice(
    qtbot: QtBot,
    dialog: ConflictDialog,
    merged: MergeResult,
) -> None:
    mine, _ = dialog.choice_buttons(merged.conflicts[0].key)
    qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_dialog_cancel(qtbot: QtBot, dialog: ConflictDialog) -> None:
    with qtbot.waitSignal(dialog.rejected, timeout=3000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_dialog_field_words(dialog: ConflictDialog, merged: MergeResult) -> None:
    [name] = [c for c in merged.conflicts if isinstance(c, FieldConflict) and c.field == "name"]
    mine, theirs = dialog.choice_buttons(name.key)
    assert mine.text() == "Keep mine: 'Front view'"
    assert theirs.text() == "Use theirs: 'Front'"
    [star] = [
        c for c in merged.conflicts if isinstance(c, FieldConflict) and c.field == "thumbnail"
    ]
    mine, theirs = dialog.choice_buttons(star.key)
    assert mine.text() == "Keep mine: 'IMG_0003.jpg' is the thumbnail"
    assert theirs.text() == "Use theirs: 'Detail' is the thumbnail"


def test_dialog_order_lists(dialog: ConflictDialog, merged: MergeResult) -> None:
    [order] = [c for c in merged.conflicts if isinstance(c, OrderConflict)]
    lists = {listing.accessibleName(): listing for listing in dialog.findChildren(QListWidget)}
    mine = lists["Your order"]
    theirs = lists["The server's order"]
    assert mine.count() == len(order.mine_order)
    assert theirs.count() == len(order.theirs_order)
    assert mine.item(0).text() == "1. IMG_0006.jpg"
    assert theirs.item(0).text() == "1. Front view"
    assert theirs.item(theirs.count() - 1).text() == f"{theirs.count()}. IMG_0001.jpg"


def test_dialog_notices(dialog: ConflictDialog) -> None:
    notices = dialog.notice_texts()
    assert "'IMG_0004.jpg' was renamed to 'Detail'." in notices
    assert "'IMG_0005.jpg' was deleted on the server, so your changes to it are dropped." in notices
    assert "'New angle' was added on the server and goes after your images." in notices


def test_dialog_without_conflicts(qtbot: QtBot) -> None:
    base = make_product(4)
    gallery = Gallery(base)
    edit = gallery.make_rename("2", "Mine")
    assert edit is not None
    gallery.apply(edit)
    theirs = server_changed(base, **{"3": {"enabled": False}})
    result = merge(base, gallery.target(), theirs)
    assert result.conflicts == []
    widget = ConflictDialog(result)
    qtbot.addWidget(widget)
    assert widget.ok_button().isEnabled()
    assert widget.resolutions() == {}
    assert widget.notice_texts() == ["'IMG_0003.jpg' is now hidden."]


def test_dialog_keyboard_choice(qtbot: QtBot, dialog: ConflictDialog, merged: MergeResult) -> None:
    mine, _ = dialog.choice_buttons(merged.conflicts[0].key)
    mine.setFocus()
    qtbot.waitUntil(mine.hasFocus, timeout=3000)
    qtbot.keyClick(mine, Qt.Key.Key_Space)
    assert dialog.resolutions() == {merged.conflicts[0].key: "mine"}


def test_dialog_screenshot(qtbot: QtBot, dialog: ConflictDialog, screenshot: Screenshot) -> None:
    dialog.resize(640, 760)
    qtbot.mouseClick(dialog.choice_buttons(("order",))[0], Qt.MouseButton.LeftButton)
    path = screenshot(dialog, "conflict_dialog")
    picture = QImage(str(path))
    assert picture.width() == dialog.width()
    assert picture.height() == dialog.height()


MOVED_BETWEEN_CASES = [
    ("abcd", "abcd", set()),
    ("dabc", "abcd", {"d"}),
    ("bcda", "abcd", {"a"}),
    ("badc", "abcd", {"a", "c"}),
    ("abcx", "abc", {"x"}),
    ("", "abc", set()),
]


@pytest.mark.parametrize(("order", "other", "expected"), MOVED_BETWEEN_CASES)
def test_moved_between(order: str, other: str, expected: set[str]) -> None:
    moved = moved_between(list(order), list(other))
    assert len(moved) == len(expected)
    if len(expected) == 1:
        assert moved == expected


def test_moved_between_bold_items(dialog: ConflictDialog) -> None:
    lists = {listing.accessibleName(): listing for listing in dialog.findChildren(QListWidget)}
    mine = lists["Your order"]
    bold = [mine.item(row).text() for row in range(mine.count()) if mine.item(row).font().bold()]
    assert bold == ["1. IMG_0006.jpg", "2. IMG_0001.jpg"]
