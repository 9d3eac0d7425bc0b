"""Editing from the gallery: star and checkbox clicks, inline rename, keyboard moves, undo and redo."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot
from ui_support import ids_at

from gallery_editor.sandbox import SandboxServer
from gallery_editor.ui.gallery_delegate import MIN_EDGE
from gallery_editor.ui.main_window import MainWindow

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def ten(qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> MainWindow:
    window = open_product(sandbox.catalog.well_known["ten"])
    window.zoom_slider().setValue(MIN_EDGE)
    window.gallery_view().doItemsLayout()
    window.activateWindow()
    window.gallery_view().setFocus()
    qtbot.waitUntil(lambda: window.gallery_view().hasFocus(), timeout=5000)
    return window


def snapshot_state(window: MainWindow) -> tuple[tuple[str, ...], dict[str, tuple[object, ...]]]:
    gallery = window.current_gallery()
    assert gallery is not None
    fields = {image_id: (value.name, value.thumbnail, value.enabled)
              for image_id in gallery.order for value in (gallery.fields(image_id),)}
    return gallery.order, fields


def click_area(qtbot: QtBot, window: MainWindow, row: int, area: str) -> None:
    view = window.gallery_view()
    delegate = window.gallery_delegate()
    cell = view.visualRect(window.gallery_model().index(row, 0))
    rect = delegate.star_rect(cell) if area == "star" else delegate.checkbox_rect(cell)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def start_rename(qtbot: QtBot, window: MainWindow, row: int) -> QLineEdit:
    view = window.gallery_view()
    view.setCurrentIndex(window.gallery_model().index(row, 0))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editors = view.viewport().findChildren(QLineEdit)
    assert len(editors) == 1
    return editors[0]


def test_star_click_sets_and_clears_thumbnail(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    target = gallery.order[4]
    click_area(qtbot, ten, 4, "star")
    assert gallery.thumbnail_id() == target
    assert [image_id for image_id in gallery.order if gallery.fields(image_id).thumbnail] == [target]
    click_area(qtbot, ten, 4, "star")
    assert gallery.thumbnail_id() is None
    assert ten.current_stack().count() == 2


def test_ctrl_t_toggles_current_thumbnail(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    ten.gallery_view().setCurrentIndex(ten.gallery_model().index(6, 0))
    qtbot.keyClick(ten.gallery_view(), Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert gallery.thumbnail_id() == gallery.order[6]


def test_checkbox_click_toggles_enabled(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    image_id = gallery.order[1]
    before = gallery.fields(image_id).enabled
    click_area(qtbot, ten, 1, "checkbox")
    assert gallery.fields(image_id).enabled is (not before)
    assert ten.isWindowModified()
    click_area(qtbot, ten, 1, "checkbox")
    assert gallery.fields(image_id).enabled is before
    assert not ten.isWindowModified()


def test_space_sets_selection_to_opposite_of_current(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    ids = ids_at(gallery.order, [1, 2, 3])
    ten.select_ids(ids)
    current_enabled = gallery.fields(ids[0]).enabled
    qtbot.keyClick(ten.gallery_view(), Qt.Key.Key_Space)
    assert [gallery.fields(image_id).enabled for image_id in ids] == [not current_enabled] * 3
    assert ten.current_stack().count() == 1


def test_f2_rename_commits_on_enter(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    image_id = gallery.order[2]
    editor = start_rename(qtbot, ten, 2)
    editor.selectAll()
    qtbot.keyClicks(editor, "  Front view ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The delegate commits the editor's text through a queued call.
    qtbot.waitUntil(lambda: ten.current_stack().count() == 1, timeout=5000)
    assert gallery.fields(image_id).name == "Front view"
    assert ten.current_stack().undoText() == "Rename to 'Front view'"
    qtbot.waitUntil(lambda: not ten.gallery_view().viewport().findChildren(QLineEdit), timeout=5000)


def test_escape_cancels_rename(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    image_id = gallery.order[2]
    old = gallery.fields(image_id).name
    editor = start_rename(qtbot, ten, 2)
    qtbot.keyClicks(editor, "Something else")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not ten.gallery_view().viewport().findChildren(QLineEdit), timeout=5000)
    assert gallery.fields(image_id).name == old
    assert ten.current_stack().count() == 0


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("   ", "cannot be empty"), ("x" * 256, "at most 255"), ("tab\there", "control characters")],
    ids=["blank", "too long", "control character"],
)
def test_invalid_name_rejected_keeps_old(qtbot: QtBot, ten: MainWindow, typed: str, reason: str) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    image_id = gallery.order[0]
    old = gallery.fields(image_id).name
    editor = start_rename(qtbot, ten, 0)
    editor.setText(typed)  # a tab cannot be typed into a line edit, so set the text directly
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ten.last_edit_error is not None, timeout=5000)
    assert gallery.fields(image_id).name == old
    assert ten.current_stack().count() == 0
    assert reason in ten.statusBar().currentMessage()
    assert ten.last_edit_error is not None
    assert reason in ten.last_edit_error


def test_double_click_on_name_starts_editor(qtbot: QtBot, ten: MainWindow) -> None:
    view = ten.gallery_view()
    cell = view.visualRect(ten.gallery_model().index(3, 0))
    point = ten.gallery_delegate().name_rect(cell).center()
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    editors = view.viewport().findChildren(QLineEdit)
    assert len(editors) == 1
    assert editors[0].isVisible()
    qtbot.keyClick(editors[0], Qt.Key.Key_Escape)


@pytest.mark.parametrize(
    ("selected", "key", "expected"),
    [
        ([3], Qt.Key.Key_Left, [1, 3, 2, 4, 5, 6, 7, 8, 9, 10]),
        ([3], Qt.Key.Key_Right, [1, 2, 4, 3, 5, 6, 7, 8, 9, 10]),
        ([2, 4], Qt.Key.Key_Left, [2, 1, 4, 3, 5, 6, 7, 8, 9, 10]),
        ([5, 7], Qt.Key.Key_Home, [5, 7, 1, 2, 3, 4, 6, 8, 9, 10]),
        ([2, 4], Qt.Key.Key_End, [1, 3, 5, 6, 7, 8, 9, 10, 2, 4]),
        ([1], Qt.Key.Key_Left, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ],
    ids=["earlier", "later", "pair earlier", "to start", "to end", "first stays"],
)
def test_keyboard_moves(
    qtbot: QtBot, ten: MainWindow, selected: list[int], key: Qt.Key, expected: list[int]
) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    server = gallery.order
    ten.select_ids(ids_at(server, selected))
    qtbot.keyClick(ten.gallery_view(), key, Qt.KeyboardModifier.ControlModifier)
    assert list(gallery.order) == ids_at(server, expected)
    assert sorted(ten.selected_ids()) == sorted(ids_at(server, selected))


def test_menu_actions_show_shortcuts(ten: MainWindow) -> None:
    expected = {
        "move_earlier": "Ctrl+Left",
        "move_later": "Ctrl+Right",
        "move_first": "Ctrl+Home",
        "move_last": "Ctrl+End",
        "star": "Ctrl+T",
        "rename": "F2",
        "toggle_enabled": "Space",
    }
    for name, shortcut in expected.items():
        action = ten.action(name)
        assert action.shortcut().toString() == shortcut
        assert shortcut in action.toolTip()
    menu_actions = {action for menu in ten.menuBar().findChildren(type(ten.menuBar().addMenu("x")))
                    for action in menu.actions()}
    for name in expected:
        assert ten.action(name) in menu_actions
    assert ten.action("undo") in ten.gallery_view().actions()


def test_undo_redo_restore_exact_states(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    server = gallery.order
    states = [snapshot_state(ten)]
    edits = [
        lambda: ten.move_images(ids_at(server, [2, 4]), 10),
        lambda: ten.rename_image(server[0], "Front view"),
        lambda: ten.toggle_thumbnail(server[5]),
        lambda: ten.set_enabled(ids_at(server, [6, 7, 8]), False),
        lambda: ten.shift_images([server[9]], -1),
    ]
    for edit in edits:
        assert edit() in (True, None)
        states.append(snapshot_state(ten))
    for expected in reversed(states[:-1]):
        ten.undo()
        assert snapshot_state(ten) == expected
    assert not ten.isWindowModified()
    assert ten.changes_text() == ""
    for expected in states[1:]:
        ten.redo()
        assert snapshot_state(ten) == expected
    model = ten.gallery_model()
    assert [model.image_id(row) for row in range(model.rowCount())] == list(gallery.order)


def test_undo_and_redo_shortcuts(qtbot: QtBot, ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    server = gallery.order
    ten.move_images([server[0]], 10)
    qtbot.keyClick(ten.gallery_view(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert gallery.order == server
    redo_keys = ten.action("redo").shortcut()
    assert not redo_keys.isEmpty()
    ten.action("redo").trigger()
    assert gallery.order != server
    assert QApplication.focusWidget() is ten.gallery_view()
