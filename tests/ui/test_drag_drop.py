"""Drag-and-drop reordering through the viewport and through the model's drop path."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QDragLeaveEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_support import (
    REORDER_CASES,
    destination_row,
    drag_images,
    ids_at,
    send_drag_move,
    send_drop,
    target_point,
)

from gallery_editor.sandbox import SandboxServer
from gallery_editor.ui.gallery_delegate import MIN_EDGE
from gallery_editor.ui.gallery_model import encode_image_ids
from gallery_editor.ui.main_window import MainWindow

pytestmark = pytest.mark.timeout(90)

CASE_IDS = [case[0] for case in REORDER_CASES]


@pytest.fixture
def ten(open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> MainWindow:
    window = open_product(sandbox.catalog.well_known["ten"])
    window.zoom_slider().setValue(MIN_EDGE)  # every item fits in the viewport
    window.gallery_view().doItemsLayout()
    return window


@pytest.mark.parametrize(("name", "selected", "target", "expected"), REORDER_CASES, ids=CASE_IDS)
def test_viewport_drop_cases(
    ten: MainWindow, name: str, selected: list[int], target: tuple[str, int], expected: list[int]
) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    server_order = gallery.order
    moving = ids_at(server_order, selected)
    ten.select_ids(moving)
    point = target_point(ten, target)
    assert ten.gallery_view().drop_row_at(point) == destination_row(target, len(server_order))
    assert drag_images(ten, moving, point)
    assert list(gallery.order) == ids_at(server_order, expected)
    assert ten.gallery_model().rowCount() == len(server_order)
    stack = ten.current_stack()
    assert stack is not None
    assert stack.count() == (0 if expected == sorted(expected) else 1)


@pytest.mark.parametrize(("name", "selected", "target", "expected"), REORDER_CASES, ids=CASE_IDS)
def test_model_drop_cases(
    ten: MainWindow, name: str, selected: list[int], target: tuple[str, int], expected: list[int]
) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    model = ten.gallery_model()
    server_order = gallery.order
    mime = model.mimeData([model.index_of(image_id) for image_id in ids_at(server_order, selected)])
    row = destination_row(target, len(server_order))
    assert model.canDropMimeData(mime, Qt.DropAction.MoveAction, row, 0, QModelIndex())
    # Returning False keeps Qt's views from removing source rows, because the undo stack moved them.
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, row, 0, QModelIndex()) is False
    assert list(gallery.order) == ids_at(server_order, expected)


def test_drop_keeps_moved_items_selected(ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    moving = ids_at(gallery.order, [2, 4])
    ten.select_ids(moving)
    assert drag_images(ten, moving, target_point(ten, ("end", 0)))
    assert sorted(ten.selected_ids()) == sorted(moving)
    assert ten.selected_ids() == list(gallery.order[-2:])


def test_drop_onto_item_never_nests_or_duplicates(ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    server_order = gallery.order
    model = ten.gallery_model()
    # A drop at the exact centre of item 4 counts as its right half: item 1 goes after it.
    rect = ten.gallery_view().visualRect(model.index(3, 0))
    assert drag_images(ten, [server_order[0]], rect.center())
    assert list(gallery.order) == ids_at(server_order, [2, 3, 4, 1, 5, 6, 7, 8, 9, 10])
    assert model.rowCount() == len(server_order)
    assert all(model.rowCount(model.index(row, 0)) == 0 for row in range(model.rowCount()))


def test_drop_from_another_product_rejected(ten: MainWindow) -> None:
    gallery = ten.current_gallery()
    assert gallery is not None
    before = gallery.order
    foreign = encode_image_ids("some-other-product", [gallery.order[0]])
    accepted = send_drop(ten.gallery_view(), foreign, target_point(ten, ("end", 0)))
    assert not accepted
    assert gallery.order == before
    assert not ten.gallery_model().canDropMimeData(foreign, Qt.DropAction.MoveAction, 0, 0, QModelIndex())


def test_drop_indicator_shown_while_dragging(ten: MainWindow) -> None:
    view = ten.gallery_view()
    model = ten.gallery_model()
    mime = model.mimeData([model.index(0, 0)])
    point = target_point(ten, ("right", 3))
    assert send_drag_move(view, mime, point)
    assert view.current_drop_row() == 3
    bar = view.drop_indicator_rect(3, point)
    third = view.visualRect(model.index(2, 0))
    fourth = view.visualRect(model.index(3, 0))
    assert third.right() < bar.center().x() < fourth.left()
    image = view.viewport().grab().toImage()
    highlight = view.palette().highlight().color()
    assert image.pixelColor(bar.center()).rgb() == highlight.rgb()
    QApplication.sendEvent(view.viewport(), QDragLeaveEvent())
    assert view.current_drop_row() is None


def test_auto_scroll_near_bottom_edge(
    open_product: Callable[[str], MainWindow], sandbox: SandboxServer, qtbot: QtBot
) -> None:
    window = open_product(sandbox.catalog.well_known["sixty"])
    view = window.gallery_view()
    model = window.gallery_model()
    scroll_bar = view.verticalScrollBar()
    assert scroll_bar.maximum() > 0
    assert scroll_bar.value() == 0
    mime = model.mimeData([model.index(0, 0)])
    point = QPoint(view.viewport().width() // 2, view.viewport().height() - 5)
    assert send_drag_move(view, mime, point)
    row_before = view.current_drop_row()
    qtbot.waitUntil(lambda: scroll_bar.value() > 0, timeout=5000)
    qtbot.waitUntil(lambda: view.current_drop_row() != row_before, timeout=5000)
    # Back in the middle, scrolling stops; after leaving, the indicator is gone.
    middle = QPoint(view.viewport().width() // 2, view.viewport().height() // 2)
    assert send_drag_move(view, mime, middle)
    assert not view.is_auto_scrolling()
    QApplication.sendEvent(view.viewport(), QDragLeaveEvent())
    assert view.current_drop_row() is None
