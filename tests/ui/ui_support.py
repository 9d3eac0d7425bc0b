"""Helpers for the window tests: synthetic drops, clicks on item areas and order checks."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gallery_editor.ui.gallery_view import GalleryView
from gallery_editor.ui.main_window import MainWindow


DRAG_ACTIONS = Qt.DropAction.MoveAction | Qt.DropAction.CopyAction
BUTTONS = Qt.MouseButton.LeftButton
MODIFIERS = Qt.KeyboardModifier.NoModifier


def make_drag_event(
    kind: type[QDragEnterEvent] | type[QDragMoveEvent], point: QPoint, mime: QMimeData
) -> QDragMoveEvent:
    """Build a drag event at `point`: PySide6 6.12 takes a QPointF, and older releases a QPoint."""
    try:
        return kind(QPointF(point), DRAG_ACTIONS, mime, BUTTONS, MODIFIERS)
    except TypeError:
        return kind(point, DRAG_ACTIONS, mime, BUTTONS, MODIFIERS)


def send_drag_move(view: GalleryView, mime: QMimeData, point: QPoint) -> bool:
    """Deliver DragEnter and DragMove at `point` (viewport coordinates); True if accepted."""
    viewport = view.viewport()
    enter = make_drag_event(QDragEnterEvent, point, mime)
    QApplication.sendEvent(viewport, enter)
    move = make_drag_event(QDragMoveEvent, point, mime)
    QApplication.sendEvent(viewport, move)
    return move.isAccepted()


def send_drop(view: GalleryView, mime: QMimeData, point: QPoint) -> bool:
    """Deliver DragEnter, DragMove and Drop at `point` (viewport coordinates); True if accepted."""
    if not send_drag_move(view, mime, point):
        return False
    drop = QDropEvent(QPointF(point), DRAG_ACTIONS, mime, BUTTONS, MODIFIERS)
    QApplication.sendEvent(view.viewport(), drop)
    return drop.isAccepted()


def drag_images(window: MainWindow, image_ids: Sequence[str], point: QPoint) -> bool:
    """Drop `image_ids` at `point` with the payload the model itself builds for a drag."""
    model = window.gallery_model()
    indexes = [model.index_of(image_id) for image_id in image_ids]
    mime = model.mimeData(indexes)
    assert mime is not None
    return send_drop(window.gallery_view(), mime, point)


def target_point(window: MainWindow, target: tuple[str, int]) -> QPoint:
    """Return a viewport point on the left or right half of an item, or after the last item."""
    view = window.gallery_view()
    model = window.gallery_model()
    kind, position = target
    if kind == "end":
        last = view.visualRect(model.index(model.rowCount() - 1, 0))
        return QPoint(last.right() + view.spacing() + 20, last.center().y())
    rect = view.visualRect(model.index(position - 1, 0))
    quarter = rect.width() // 4
    x = rect.left() + quarter if kind == "left" else rect.right() - quarter
    return QPoint(x, rect.center().y())


def ids_at(order: Sequence[str], positions: Sequence[int]) -> list[str]:
    return [order[position - 1] for position in positions]


# -- reorder cases, written once and replayed through the model and through the viewport --

# Positions are 1-based places in the server order of the ten-image product. A target is
# ("left", k) or ("right", k) for a drop on that half of item k, or ("end", 0) for a
# drop in the empty space after the last item.
REORDER_CASES: list[tuple[str, list[int], tuple[str, int], list[int]]] = [
    ("single onto first left half", [3], ("left", 1), [3, 1, 2, 4, 5, 6, 7, 8, 9, 10]),
    ("single onto first right half", [3], ("right", 1), [1, 3, 2, 4, 5, 6, 7, 8, 9, 10]),
    ("first onto fifth right half", [1], ("right", 5), [2, 3, 4, 5, 1, 6, 7, 8, 9, 10]),
    ("single onto itself", [8], ("left", 8), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("two and four past the last", [2, 4], ("end", 0), [1, 3, 5, 6, 7, 8, 9, 10, 2, 4]),
    ("two and four to the start", [2, 4], ("left", 1), [2, 4, 1, 3, 5, 6, 7, 8, 9, 10]),
    ("contiguous pair backwards", [6, 7], ("right", 2), [1, 2, 6, 7, 3, 4, 5, 8, 9, 10]),
    ("first and last to the middle", [1, 10], ("left", 5), [2, 3, 4, 1, 10, 5, 6, 7, 8, 9]),
    ("fifth onto last right half", [5], ("right", 10), [1, 2, 3, 4, 6, 7, 8, 9, 10, 5]),
    ("last onto ninth right half", [10], ("right", 9), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
]


def destination_row(target: tuple[str, int], count: int) -> int:
    """Return the insertion row a drop on `target` means (0-based, `count` for the end)."""
    kind, position = target
    if kind == "end":
        return count
    return position - 1 if kind == "left" else position
