"""RecoveryDialog and the pending banner over sessions stored in a real journal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QAbstractButton, QDialog, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from gallery_editor.domain.gallery import Gallery
from gallery_editor.journal import SessionSummary
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.recovery_dialog import (
    PendingBanner,
    RecoveryDialog,
    last_edited_text,
    pending_banner_text,
)
from gallery_editor.ui.session_keeper import SessionKeeper

from keeper_support import API_URL, PERSIST_TIMEOUT_MS, make_product


def summary(product_id: str, name: str, changes: int) -> SessionSummary:
    edited = datetime(2024, 5, 3, 9, 2, tzinfo=UTC)
    return SessionSummary(API_URL, product_id, name, changes, edited)


def edit_products(qtbot: QtBot, keeper: SessionKeeper, names: dict[str, str]) -> None:
    """Journal one move in each product, waiting until every one is committed."""
    stacks: list[QUndoStack] = []
    for product_id, name in names.items():
        gallery = Gallery(make_product(product_id, name=name))
        stack = QUndoStack()
        stacks.append(stack)
        keeper.track(gallery, stack, name)
        edit = gallery.make_move([gallery.id_at(0)], len(gallery))
        assert edit is not None
        with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS):
            stack.push(EditCommand(gallery, edit))
        keeper.untrack(product_id)
    keeper.flush()


@pytest.fixture
def dialog(qtbot: QtBot, keeper: SessionKeeper) -> Iterator[RecoveryDialog]:
    edit_products(qtbot, keeper, {"p1": "Blue mug", "p2": "Red cup"})
    widget = RecoveryDialog(keeper.pending(), recovered_from=keeper.recovered_from)
    widget.discard_confirmed.connect(keeper.discard)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def confirmation_of(qtbot: QtBot, dialog: RecoveryDialog) -> QMessageBox:
    qtbot.waitUntil(lambda: dialog.confirmation is not None and dialog.confirmation.isVisible())
    assert dialog.confirmation is not None
    return dialog.confirmation


def button_with_text(box: QMessageBox, text: str) -> QAbstractButton:
    for button in box.buttons():
        if button.text().replace("&", "") == text:
            return button
    texts = [button.text() for button in box.buttons()]
    raise AssertionError(f"no button {text!r} among {texts}")


def test_dialog_lists_sessions(dialog: RecoveryDialog) -> None:
    tree = dialog.tree()
    assert dialog.product_ids() == ["p2", "p1"]  # newest change first
    assert tree.topLevelItem(0).text(0) == "Red cup"
    assert tree.topLevelItem(1).text(0) == "Blue mug"
    assert tree.topLevelItem(0).text(1) == "1 changed image"
    assert tree.topLevelItem(0).text(2).startswith("today ")
    assert dialog.selected_product_id() == "p2"
    assert dialog.open_button().isDefault()
    assert dialog.findChild(QLabel, "recovered_notice") is None


def test_discard_asks_first(qtbot: QtBot, dialog: RecoveryDialog, keeper: SessionKeeper) -> None:
    dialog.select_product("p1")
    qtbot.mouseClick(dialog.discard_button(), Qt.MouseButton.LeftButton)
    box = confirmation_of(qtbot, dialog)
    assert "Blue mug" in box.text()
    assert [s.product_id for s in keeper.pending()] == ["p2", "p1"]

    qtbot.mouseClick(button_with_text(box, "Cancel"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.confirmation is None)
    assert dialog.product_ids() == ["p2", "p1"]
    assert [s.product_id for s in keeper.pending()] == ["p2", "p1"]

    qtbot.mouseClick(dialog.discard_button(), Qt.MouseButton.LeftButton)
    box = confirmation_of(qtbot, dialog)
    with qtbot.waitSignal(dialog.discard_confirmed, timeout=PERSIST_TIMEOUT_MS) as confirmed:
        qtbot.mouseClick(button_with_text(box, "Discard"), Qt.MouseButton.LeftButton)
    assert confirmed.args == ["p1"]
    assert dialog.product_ids() == ["p2"]
    qtbot.waitUntil(lambda: keeper.is_persisted("p1"), timeout=PERSIST_TIMEOUT_MS)
    assert [s.product_id for s in keeper.pending()] == ["p2"]
    assert dialog.isVisible()


def test_discarding_last_closes(qtbot: QtBot, dialog: RecoveryDialog) -> None:
    for _ in range(2):
        qtbot.keyClick(dialog.tree(), Qt.Key.Key_Delete)
        box = confirmation_of(qtbot, dialog)
        qtbot.mouseClick(button_with_text(box, "Discard"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.confirmation is None)
    assert dialog.product_ids() == []
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_escape_cancels_confirmation(qtbot: QtBot, dialog: RecoveryDialog) -> None:
    qtbot.keyClick(dialog.tree(), Qt.Key.Key_Delete)
    box = confirmation_of(qtbot, dialog)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: dialog.confirmation is None)
    assert dialog.product_ids() == ["p2", "p1"]


def test_return_opens_selected(qtbot: QtBot, dialog: RecoveryDialog) -> None:
    dialog.select_product("p1")
    opened: list[str] = []
    dialog.open_requested.connect(opened.append)
    qtbot.keyClick(dialog.tree(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert opened == ["p1"]
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_escape_means_later(qtbot: QtBot, dialog: RecoveryDialog, keeper: SessionKeeper) -> None:
    opened: list[str] = []
    dialog.open_requested.connect(opened.append)
    qtbot.keyClick(dialog.tree(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert opened == []
    assert len(keeper.pending()) == 2


def test_recovered_notice_names_file(qtbot: QtBot, tmp_path: Path) -> None:
    moved = tmp_path / "journal.sqlite3.corrupt-20240503T090200Z"
    widget = RecoveryDialog([summary("p1", "Blue mug", 2)], recovered_from=moved)
    qtbot.addWidget(widget)
    notice = widget.findChild(QLabel, "recovered_notice")
    assert notice is not None
    assert str(moved) in notice.text()


def test_banner_text_cases() -> None:
    assert pending_banner_text([]) == ""
    assert pending_banner_text([summary("p1", "Blue mug", 3)]) == (
        "1 product has unsaved changes: Blue mug (3 changed images)"
    )
    assert pending_banner_text([summary("p1", "Blue mug", 1)]) == (
        "1 product has unsaved changes: Blue mug (1 changed image)"
    )
    two = [summary("p1", "Blue mug", 1), summary("p2", "Red cup", 2)]
    assert pending_banner_text(two) == "2 products have unsaved changes: Blue mug, Red cup"
    five = [summary(f"p{n}", f"Item {n}", 1) for n in range(5)]
    assert pending_banner_text(five) == (
        "5 products have unsaved changes: Item 0, Item 1, Item 2 and 2 more"
    )


def test_banner_hides_without_sessions(qtbot: QtBot) -> None:
    banner = PendingBanner()
    qtbot.addWidget(banner)
    banner.show()
    banner.set_summaries([])
    assert not banner.isVisible()
    banner.set_summaries([summary("p1", "Blue mug", 2)])
    assert banner.isVisible()
    assert banner.text() == "1 product has unsaved changes: Blue mug (2 changed images)"
    with qtbot.waitSignal(banner.review_requested, timeout=PERSIST_TIMEOUT_MS):
        qtbot.mouseClick(banner.review_button(), Qt.MouseButton.LeftButton)


@pytest.fixture
def kolkata_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("kolkata_time")
def test_last_edited_text_local() -> None:
    edited = datetime(2024, 5, 3, 9, 2, tzinfo=UTC)
    assert last_edited_text(edited, datetime(2024, 5, 3, 10, 0, tzinfo=UTC)) == "today 14:32"
    assert last_edited_text(edited, datetime(2024, 5, 5, 10, 0, tzinfo=UTC)) == "2024-05-03 14:32"
