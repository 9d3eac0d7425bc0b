"""The icon-mode list that shows the gallery, with drag-and-drop reordering done by the app."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from gallery_editor.ui.gallery_delegate import GalleryDelegate
from gallery_editor.ui.gallery_model import GalleryModel

logger = logging.getLogger(__name__)

AUTO_SCROLL_MARGIN = 48
ITEM_SPACING = 8
INDICATOR_WIDTH = 4
VISIBLE_ROWS_DELAY_MS = 60
AUTO_SCROLL_INTERVAL_MS = 30
AUTO_SCROLL_MAX_STEP = 24


class GalleryView(QListView):
    """Gallery items in wrapping rows; drops become one move request, never a row removal.

    Qt's built-in internal move would let the view remove the source rows after the
    model moved them, or drop an item inside another one. Here `startDrag` never removes
    anything, and `dropEvent` computes the insertion row from the cursor and hands it to
    the model's `dropMimeData`, which reports it as a move request.
    """

    visible_rows_changed = Signal()
    preview_requested = Signal(QModelIndex)
    zoom_requested = Signal(int)  # +1 to zoom in one step, -1 to zoom out

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._drop_row: int | None = None
        self._drop_point = QPoint()
        self._configure_layout()
        self._configure_drag_and_drop()
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAccessibleName("Gallery images")
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(VISIBLE_ROWS_DELAY_MS)
        self._visible_timer.timeout.connect(self.visible_rows_changed)
        self.verticalScrollBar().valueChanged.connect(self._schedule_visible_rows)
        self._scroll_step = 0
        self._scroll_timer = QTimer(self)
        self._scroll_timer.setInterval(AUTO_SCROLL_INTERVAL_MS)
        self._scroll_timer.timeout.connect(self._auto_scroll_tick)

    def _configure_layout(self) -> None:
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(ITEM_SPACING)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)

    def _configure_drag_and_drop(self) -> None:
        # IconMode turns on free movement and setMovement(Static) turns drag and drop off,
        # so the drag and drop switches come after it.
        self.setMovement(QListView.Movement.Static)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(False)  # the view paints its own insertion bar
        self.setAutoScroll(True)
        self.setAutoScrollMargin(AUTO_SCROLL_MARGIN)

    # -- helpers ---------------------------------------------------------------------

    def gallery_model(self) -> GalleryModel | None:
        model = self.model()
        return model if isinstance(model, GalleryModel) else None

    def gallery_delegate(self) -> GalleryDelegate | None:
        delegate = self.itemDelegate()
        return delegate if isinstance(delegate, GalleryDelegate) else None

    def relayout(self) -> None:
        """Lay the items out again after the zoom changed the item size."""
        self.scheduleDelayedItemsLayout()
        self.viewport().update()
        self._schedule_visible_rows()

    def visible_rows(self) -> range:
        """Return the rows whose items intersect the viewport."""
        count = self.model().rowCount() if self.model() is not None else 0
        height = self.viewport().height()
        first = self._first_row_where(lambda rect: rect.bottom() >= 0, count)
        end = self._first_row_where(lambda rect: rect.top() > height, count)
        return range(first, max(first, end))

    def _first_row_where(self, predicate: Callable[[QRect], bool], count: int) -> int:
        """Binary-search the first row whose rect satisfies a predicate that is monotone in row."""
        low, high = 0, count
        model = self.model()
        while low < high:
            middle = (low + high) // 2
            if predicate(self.visualRect(model.index(middle, 0))):
                high = middle
            else:
                low = middle + 1
        return low

    def drop_row_at(self, point: QPoint) -> int:
        """Return the insertion row for a drop at `point` (viewport coordinates).

        Items are in reading order, so an item comes before the point when its line is
        above it or when it is on the point's line with its centre left of the point. A
        drop on an item's left half inserts before it and on its right half after it.
        """
        count = self.model().rowCount() if self.model() is not None else 0

        def after_point(rect: QRect) -> bool:
            if rect.bottom() < point.y():
                return False
            if rect.top() > point.y():
                return True
            return rect.center().x() > point.x()

        return self._first_row_where(after_point, count)

    def drop_indicator_rect(self, row: int, point: QPoint | None = None) -> QRect:
        """Return the insertion bar for `row`, beside the item on the cursor's line."""
        model = self.model()
        count = model.rowCount() if model is not None else 0
        if count == 0:
            return QRect()
        half_gap = self.spacing() // 2 + INDICATOR_WIDTH // 2
        previous = self.visualRect(model.index(row - 1, 0)) if row > 0 else QRect()
        on_previous_line = point is not None and previous.isValid() and (
            previous.top() <= point.y() <= previous.bottom()
        )
        if row >= count or on_previous_line:
            return QRect(previous.right() + half_gap - INDICATOR_WIDTH + 1, previous.top(),
                         INDICATOR_WIDTH, previous.height())
        rect = self.visualRect(model.index(row, 0))
        return QRect(rect.left() - half_gap, rect.top(), INDICATOR_WIDTH, rect.height())

    def current_drop_row(self) -> int | None:
        return self._drop_row

    # -- drag and drop -----------------------------------------------------------------

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        model = self.gallery_model()
        indexes = sorted(self.selectedIndexes(), key=QModelIndex.row)
        if model is None or not indexes:
            return
        mime = model.mimeData(indexes)
        if mime is None:
            return
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(self._drag_pixmap(len(indexes)))
        # The result is ignored on purpose: the drop already moved the rows through the
        # undo stack, and nothing may be removed here.
        drag.exec(Qt.DropAction.MoveAction, Qt.DropAction.MoveAction)
        self._clear_drop_indicator()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event):
            self._accept_at(event)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event):
            self._accept_at(event)
            self._update_auto_scroll(event.position().toPoint())
        else:
            self._clear_drop_indicator()
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._clear_drop_indicator()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        model = self.gallery_model()
        self._clear_drop_indicator()
        if model is None or not self._accepts(event):
            event.ignore()
            return
        row = self.drop_row_at(event.position().toPoint())
        model.dropMimeData(event.mimeData(), Qt.DropAction.MoveAction, row, 0, QModelIndex())
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()

    def _accepts(self, event: QDropEvent) -> bool:
        model = self.gallery_model()
        return model is not None and model.decode_own_drop(event.mimeData()) is not None

    def _accept_at(self, event: QDropEvent) -> None:
        point = event.position().toPoint()
        row = self.drop_row_at(point)
        if row != self._drop_row or point != self._drop_point:
            self._drop_row = row
            self._drop_point = point
            self.viewport().update()
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()

    def _clear_drop_indicator(self) -> None:
        self._scroll_timer.stop()
        self._scroll_step = 0
        if self._drop_row is not None:
            self._drop_row = None
            self.viewport().update()

    def _update_auto_scroll(self, point: QPoint) -> None:
        """Scroll while a drag hovers near the top or bottom edge, faster closer to it.

        Qt's own auto-scroll reads the global cursor position rather than the drag
        position, so the view scrolls itself from the last drag position instead.
        """
        margin = self.autoScrollMargin()
        height = self.viewport().height()
        if point.y() < margin:
            depth = margin - point.y()
            self._scroll_step = -self._step_for(depth, margin)
        elif point.y() > height - margin:
            depth = point.y() - (height - margin)
            self._scroll_step = self._step_for(depth, margin)
        else:
            self._scroll_step = 0
        if self._scroll_step and not self._scroll_timer.isActive():
            self._scroll_timer.start()
        elif not self._scroll_step:
            self._scroll_timer.stop()

    @staticmethod
    def _step_for(depth: int, margin: int) -> int:
        return max(2, min(AUTO_SCROLL_MAX_STEP, AUTO_SCROLL_MAX_STEP * depth // max(1, margin)))

    def _auto_scroll_tick(self) -> None:
        bar = self.verticalScrollBar()
        before = bar.value()
        bar.setValue(before + self._scroll_step)
        if bar.value() == before or self._drop_row is None:
            self._scroll_timer.stop()
            return
        # The content moved under a still cursor, so the insertion row changes too.
        self._drop_row = self.drop_row_at(self._drop_point)
        self.viewport().update()

    def is_auto_scrolling(self) -> bool:
        return self._scroll_timer.isActive()

    def _drag_pixmap(self, count: int) -> QPixmap:
        delegate = self.gallery_delegate()
        edge = min(96, delegate.edge if delegate is not None else 96)
        pixmap = QPixmap(QSize(edge, edge // 2))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        painter.setBrush(highlight)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(pixmap.rect(), 8, 8)
        painter.setPen(self.palette().color(QPalette.ColorRole.HighlightedText))
        label = "1 image" if count == 1 else f"{count} images"
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, label)
        painter.end()
        return pixmap

    # -- painting ----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._drop_row is None:
            return
        bar = self.drop_indicator_rect(self._drop_row, self._drop_point)
        if bar.isNull():
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(bar, 2, 2)
        # Small caps at both ends make the bar read as an insertion point, not a border.
        painter.drawEllipse(bar.center().x() - 4, bar.top() - 4, 8, 8)
        painter.drawEllipse(bar.center().x() - 4, bar.bottom() - 4, 8, 8)
        painter.end()

    # -- input ---------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if plain and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.state() != QAbstractItemView.State.EditingState:
            if self.currentIndex().isValid():
                self.preview_requested.emit(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        delegate = self.gallery_delegate()
        if not index.isValid() or delegate is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseDoubleClickEvent(event)
            return
        cell = self.visualRect(index)
        point = event.position().toPoint()
        if delegate.name_rect(cell).contains(point):
            self.setCurrentIndex(index)
            self.edit(index)
        elif delegate.star_rect(cell).contains(point) or delegate.checkbox_rect(cell).adjusted(-3, -3, 3, 3).contains(point):
            return  # the two clicks already toggled; a double-click adds nothing
        elif delegate.image_rect(cell).contains(point):
            self.preview_requested.emit(index)
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta > 0:
                self.zoom_requested.emit(1)
            elif delta < 0:
                self.zoom_requested.emit(-1)
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._schedule_visible_rows()

    def _schedule_visible_rows(self) -> None:
        self._visible_timer.start()
