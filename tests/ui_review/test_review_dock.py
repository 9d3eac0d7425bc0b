"""The review dock: change lines, reverts on the undo stack, discard all, request count, strip."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot
import shiboken6
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QUndoStack
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QTreeWidgetItem

from gallery_editor.domain.conflicts import ServerUpdate
from gallery_editor.domain.gallery import Edit, Gallery
from gallery_editor.domain.review import DASHBOARD_IMAGE_LIMIT, patch_count
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.review_dock import REVERT_COLUMN, ReviewDock

from review_support import make_product

Push = Callable[[Edit | None], None]


def tree_lines(dock: ReviewDock) -> list[tuple[str, list[str]]]:
    tree = dock.change_tree()
    result = []
    for row in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(row)
        result.append((top.text(0), [top.child(i).text(0) for i in range(top.childCount())]))
    return result


def find_item(dock: ReviewDock, text: str) -> QTreeWidgetItem:
    tree = dock.change_tree()
    matches = tree.findItems(text, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)
    assert len(matches) == 1, f"expected one row {text!r}, found {len(matches)}"
    return matches[0]


def button_index(dock: ReviewDock, item: QTreeWidgetItem) -> QModelIndex:
    tree = dock.change_tree()
    parent = item.parent()
    if parent is None:
        return tree.model().index(tree.indexOfTopLevelItem(item), REVERT_COLUMN)
    parent_index = tree.model().index(tree.indexOfTopLevelItem(parent), 0)
    return tree.model().index(parent.indexOfChild(item), REVERT_COLUMN, parent_index)


def click_revert(qtbot: QtBot, dock: ReviewDock, text: str) -> None:
    tree = dock.change_tree()
    index = button_index(dock, find_item(dock, text))
    rect = tree.visualRect(index)
    assert rect.isValid(), f"the Revert button of {text!r} is not visible"
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def wait_for_lines(qtbot: QtBot, dock: ReviewDock, expected: list[tuple[str, list[str]]]) -> None:
    qtbot.waitUntil(lambda: tree_lines(dock) == expected, timeout=3000)


# -- listing and refreshing ---------------------------------------------------------------


def test_dock_empty_gallery_state(dock: ReviewDock) -> None:
    assert tree_lines(dock) == []
    assert dock.request_text() == "Nothing to save."
    assert not dock.findChild(QPushButton, "discard_all").isEnabled()


def test_dock_without_gallery(qtbot: QtBot) -> None:
    widget = ReviewDock()
    qtbot.addWidget(widget)
    assert tree_lines(widget) == []
    assert widget.request_text() == ""
    assert widget.gallery() is None


def test_dock_refreshes_after_edits(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    push(gallery.make_move(["5"], 0))
    push(gallery.make_rename("2", "Front view"))
    wait_for_lines(
        qtbot,
        dock,
        [
            ("1. IMG_0005.jpg", ["Moved from position 5 to 1"]),
            ("3. Front view", ["Renamed 'IMG_0002.jpg' to 'Front view'"]),
        ],
    )
    assert dock.request_text() == f"This save will make {patch_count(gallery)} requests."


def test_dock_refresh_is_debounced(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    refreshes: list[None] = []
    dock.refreshed.connect(lambda: refreshes.append(None))
    with qtbot.waitSignal(dock.refreshed, timeout=3000):
        for image_id in ("2", "3", "4"):
            push(gallery.make_set_enabled([image_id], False))
    assert len(refreshes) == 1
    titles = [title for title, _ in tree_lines(dock)]
    assert titles == ["2. IMG_0002.jpg", "3. IMG_0003.jpg", "4. IMG_0004.jpg"]


def test_dock_request_count_text(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    push(gallery.make_rename("3", "Detail"))
    qtbot.waitUntil(lambda: dock.request_text() == "This save will make 1 request.", timeout=3000)
    push(gallery.make_set_enabled(["4", "5"], False))
    expected = f"This save will make {patch_count(gallery)} requests."
    assert patch_count(gallery) == 3
    qtbot.waitUntil(lambda: dock.request_text() == expected, timeout=3000)


def test_dock_shows_warnings(qtbot: QtBot, dock: ReviewDock, gallery: Gallery, push: Push) -> None:
    assert dock.warning_texts() == []
    push(gallery.make_set_enabled(["1"], False))
    expected = "The thumbnail 'IMG_0001.jpg' is hidden; show it or star an image that is shown."
    qtbot.waitUntil(lambda: dock.warning_texts() == [expected], timeout=3000)
    labels = [label.text() for label in dock.findChildren(QLabel, "review_warning")]
    assert labels == [expected]


def test_dock_warns_over_dashboard_limit(qtbot: QtBot, undo_stack: QUndoStack) -> None:
    widget = ReviewDock()
    qtbot.addWidget(widget)
    widget.set_gallery(Gallery(make_product(DASHBOARD_IMAGE_LIMIT + 1)), undo_stack)
    assert len(widget.warning_texts()) == 1
    assert "at most 10" in widget.warning_texts()[0]


def test_dock_server_update_lines(qtbot: QtBot, dock: ReviewDock) -> None:
    dock.set_server_updates([ServerUpdate("4", "name", "IMG_0004.jpg", "Back")])
    expected = [("4. IMG_0004.jpg", ["Updated on the server: name is now 'Back'"])]
    wait_for_lines(qtbot, dock, expected)
    item = find_item(dock, "Updated on the server: name is now 'Back'")
    assert item.text(REVERT_COLUMN) == ""


def test_dock_keeps_current_row(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    push(gallery.make_rename("2", "Two"))
    push(gallery.make_rename("4", "Four"))
    dock.refresh_now()
    dock.change_tree().setCurrentItem(find_item(dock, "Renamed 'IMG_0004.jpg' to 'Four'"))
    push(gallery.make_set_enabled(["6"], False))
    wait_for_lines(
        qtbot,
        dock,
        [
            ("2. Two", ["Renamed 'IMG_0002.jpg' to 'Two'"]),
            ("4. Four", ["Renamed 'IMG_0004.jpg' to 'Four'"]),
            ("6. IMG_0006.jpg", ["Hidden"]),
        ],
    )
    assert dock.change_tree().currentItem().text(0) == "Renamed 'IMG_0004.jpg' to 'Four'"


def test_dock_switches_gallery(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    other = Gallery(make_product(3))
    other_stack = QUndoStack()
    dock.set_gallery(other, other_stack)
    assert dock.gallery() is other
    # Edits of the previous gallery must no longer reach the dock.
    with qtbot.assertNotEmitted(dock.refreshed, wait=300):
        push(gallery.make_rename("2", "Old gallery"))
    assert tree_lines(dock) == []


def test_dock_deleted_stops_listening(
    qtbot: QtBot,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    widget = ReviewDock()
    widget.set_gallery(gallery, undo_stack)
    widget.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(widget), timeout=3000)
    push(gallery.make_rename("2", "After the dock"))
    assert gallery.fields("2").name == "After the dock"


# -- reverting ------------------------------------------------------------------------------


def test_revert_button_pushes_undoable_command(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_rename("2", "Front view"))
    push(gallery.make_set_enabled(["3"], False))
    dock.refresh_now()
    count_before = undo_stack.count()

    click_revert(qtbot, dock, "Renamed 'IMG_0002.jpg' to 'Front view'")
    assert gallery.fields("2").name == "IMG_0002.jpg"
    assert gallery.fields("3").enabled is False
    assert undo_stack.count() == count_before + 1
    wait_for_lines(qtbot, dock, [("3. IMG_0003.jpg", ["Hidden"])])

    undo_stack.undo()
    assert gallery.fields("2").name == "Front view"
    wait_for_lines(
        qtbot,
        dock,
        [
            ("2. Front view", ["Renamed 'IMG_0002.jpg' to 'Front view'"]),
            ("3. IMG_0003.jpg", ["Hidden"]),
        ],
    )


def test_revert_move_button(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_move(["6"], 1))
    dock.refresh_now()
    moved_order = gallery.order
    click_revert(qtbot, dock, "Moved from position 6 to 2")
    assert gallery.order == gallery.server_order()
    wait_for_lines(qtbot, dock, [])
    undo_stack.undo()
    assert gallery.order == moved_order


def test_revert_all_of_one_image(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_move(["4"], 0))
    push(gallery.make_rename("4", "Back"))
    push(gallery.make_toggle_thumbnail("4"))
    push(gallery.make_rename("2", "Kept"))
    dock.refresh_now()
    count_before = undo_stack.count()

    click_revert(qtbot, dock, "1. Back")
    assert undo_stack.count() == count_before + 1
    assert gallery.order == gallery.server_order()
    assert gallery.fields("4") == gallery.fields("4").__class__("IMG_0004.jpg", False, True)
    assert gallery.thumbnail_id() == "1"
    assert gallery.fields("2").name == "Kept"
    wait_for_lines(qtbot, dock, [("2. Kept", ["Renamed 'IMG_0002.jpg' to 'Kept'"])])

    undo_stack.undo()
    assert gallery.row_of("4") == 0
    assert gallery.fields("4").name == "Back"
    assert gallery.thumbnail_id() == "4"


def test_revert_with_delete_key(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_set_enabled(["5"], False))
    dock.refresh_now()
    tree = dock.change_tree()
    tree.setFocus()
    tree.setCurrentItem(find_item(dock, "Hidden"))
    qtbot.waitUntil(tree.hasFocus, timeout=3000)
    qtbot.keyClick(tree, Qt.Key.Key_Delete)
    assert gallery.fields("5").enabled is True
    assert undo_stack.undoText() == "Revert enabled of 'IMG_0005.jpg'"


def test_revert_selected_button(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    button = dock.findChild(QPushButton, "revert_selected")
    push(gallery.make_rename("3", "Three"))
    dock.refresh_now()
    assert not button.isEnabled()
    dock.change_tree().setCurrentItem(find_item(dock, "Renamed 'IMG_0003.jpg' to 'Three'"))
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert gallery.fields("3").name == "IMG_0003.jpg"


def test_revert_press_then_release_elsewhere(
    qtbot: QtBot, dock: ReviewDock, gallery: Gallery, push: Push
) -> None:
    push(gallery.make_rename("2", "Two"))
    dock.refresh_now()
    tree = dock.change_tree()
    item = find_item(dock, "Renamed 'IMG_0002.jpg' to 'Two'")
    button = tree.visualRect(button_index(dock, item)).center()
    text = tree.visualItemRect(item).topLeft() + QPoint(30, 4)
    qtbot.mousePress(tree.viewport(), Qt.MouseButton.LeftButton, pos=button)
    qtbot.mouseRelease(tree.viewport(), Qt.MouseButton.LeftButton, pos=text)
    assert gallery.fields("2").name == "Two"


def test_dock_large_gallery_refresh(qtbot: QtBot, undo_stack: QUndoStack) -> None:
    large = Gallery(make_product(200))
    widget = ReviewDock()
    qtbot.addWidget(widget)
    widget.set_gallery(large, undo_stack)
    for index in range(1, 200, 2):
        undo_stack.push(EditCommand(large, large.make_move([str(index)], 200)))
        rename = large.make_rename(str(index + 1), f"Renamed {index + 1}")
        assert rename is not None
        undo_stack.push(EditCommand(large, rename))
    started = time.perf_counter()
    widget.refresh_now()
    elapsed = time.perf_counter() - started
    assert widget.change_tree().topLevelItemCount() == len(large.changed_image_ids())
    # A generous bound: the refresh runs on the GUI thread after every burst of edits.
    assert elapsed < 2.0, f"refreshing 200 images took {elapsed:.2f} s"


# -- discard all ------------------------------------------------------------------------------


def discard_box(dock: ReviewDock) -> QMessageBox | None:
    return dock.findChild(QMessageBox, "discard_all_confirmation")


def open_discard_box(qtbot: QtBot, dock: ReviewDock) -> QMessageBox:
    qtbot.mouseClick(dock.findChild(QPushButton, "discard_all"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: discard_box(dock) is not None, timeout=3000)
    box = discard_box(dock)
    qtbot.waitUntil(box.isVisible, timeout=3000)
    return box


def discard_button(box: QMessageBox) -> QPushButton:
    destructive = QMessageBox.ButtonRole.DestructiveRole
    [button] = [b for b in box.buttons() if box.buttonRole(b) == destructive]
    return button


def test_discard_all_confirmed(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_move(["2", "5"], 0))
    push(gallery.make_rename("3", "Three"))
    push(gallery.make_toggle_thumbnail("6"))
    dock.refresh_now()
    working_order = gallery.order
    count_before = undo_stack.count()

    box = open_discard_box(qtbot, dock)
    assert "5 images" in box.text()
    qtbot.mouseClick(discard_button(box), Qt.MouseButton.LeftButton)

    assert not gallery.is_modified()
    assert undo_stack.count() == count_before + 1
    assert undo_stack.undoText() == "Discard all changes"
    wait_for_lines(qtbot, dock, [])

    undo_stack.undo()
    assert gallery.order == working_order
    assert gallery.fields("3").name == "Three"
    assert gallery.thumbnail_id() == "6"


def test_discard_all_cancelled(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
) -> None:
    push(gallery.make_rename("3", "Three"))
    dock.refresh_now()
    count_before = undo_stack.count()
    box = open_discard_box(qtbot, dock)
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: discard_box(dock) is None, timeout=3000)
    assert gallery.fields("3").name == "Three"
    assert undo_stack.count() == count_before


# -- the before/after strip ---------------------------------------------------------------------


def test_strip_orders_and_chips(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    push: Push,
) -> None:
    push(gallery.make_move(["6"], 0))
    dock.refresh_now()
    strip = dock.order_strip()
    assert strip.chip_at(strip.chip_rect(0, 0).center()) == "1"
    assert strip.chip_at(strip.chip_rect(1, 0).center()) == "6"
    assert strip.chip_at(strip.chip_rect(1, 5).center()) == "5"
    assert strip.chip_at(strip.chip_rect(1, 6).center()) is None
    summary = strip.accessible_summary()
    assert summary.startswith("Server order: 1 IMG_0001.jpg, 2 IMG_0002.jpg")
    assert "New order: 6 IMG_0006.jpg, 1 IMG_0001.jpg" in summary


def test_strip_draws_thumbnails(qtbot: QtBot, gallery: Gallery, undo_stack: QUndoStack) -> None:
    red = QImage(64, 48, QImage.Format.Format_RGB32)
    red.fill(QColor(220, 0, 0))
    widget = ReviewDock()
    qtbot.addWidget(widget)
    widget.set_gallery(gallery, undo_stack, lambda image_id: red if image_id == "2" else None)
    strip = widget.order_strip()
    picture = strip.grab().toImage()
    with_thumbnail = picture.pixelColor(strip.chip_rect(0, 1).center())
    without_thumbnail = picture.pixelColor(strip.chip_rect(0, 2).center())
    assert with_thumbnail.red() == 220
    assert with_thumbnail.green() == 0
    assert without_thumbnail != with_thumbnail


# -- screenshots ----------------------------------------------------------------------------------


def gradient_image(seed: int) -> QImage:
    """Return a landscape test photo: a colour gradient that differs per seed."""
    image = QImage(160, 120, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    gradient = QLinearGradient(0, 0, 160, 120)
    gradient.setColorAt(0, QColor.fromHsv((seed * 70) % 360, 160, 230))
    gradient.setColorAt(1, QColor.fromHsv((seed * 70 + 40) % 360, 200, 120))
    painter.fillRect(image.rect(), gradient)
    painter.end()
    return image


@pytest.mark.parametrize("style", ["light", "dark"])
def test_dock_screenshot(
    qtbot: QtBot,
    dock: ReviewDock,
    gallery: Gallery,
    undo_stack: QUndoStack,
    push: Push,
    screenshot,
    style: str,
) -> None:
    if style == "dark":
        palette = dock.palette()
        for role, color in [
            (palette.ColorRole.Window, QColor(45, 45, 48)),
            (palette.ColorRole.WindowText, QColor(230, 230, 230)),
            (palette.ColorRole.Base, QColor(30, 30, 32)),
            (palette.ColorRole.Text, QColor(230, 230, 230)),
            (palette.ColorRole.Button, QColor(60, 60, 64)),
            (palette.ColorRole.ButtonText, QColor(230, 230, 230)),
        ]:
            palette.setColor(role, color)
        dock.setPalette(palette)
    thumbnails = {
        image_id: gradient_image(index) for index, image_id in enumerate(("1", "2", "4", "5"))
    }
    dock.set_gallery(gallery, undo_stack, thumbnails.get)
    push(gallery.make_move(["5"], 0))
    push(gallery.make_rename("2", "Front view"))
    push(gallery.make_toggle_thumbnail("3"))
    push(gallery.make_set_enabled(["3"], False))
    dock.set_server_updates([ServerUpdate("6", "enabled", True, False)])
    qtbot.waitUntil(lambda: len(tree_lines(dock)) == 5, timeout=3000)
    [warning] = dock.findChildren(QLabel, "review_warning")
    assert warning.isVisible()
    path = screenshot(dock, f"review_dock_{style}")
    picture = QImage(str(path))
    assert picture.width() == dock.width()
    assert picture.height() == dock.height()
