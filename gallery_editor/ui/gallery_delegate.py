"""Paints gallery items (thumbnail, star, checkbox, name, badges) and handles their clicks."""

from __future__ import annotations

import logging
from collections import OrderedDict
from math import cos, pi, sin

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QImage, QMouseEvent, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionViewItem,
    QWidget,
)

from gallery_editor.ui.gallery_model import Role, ThumbnailState
from gallery_editor.ui.icons import icon

logger = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex

MIN_EDGE = 96
MAX_EDGE = 384
DEFAULT_EDGE = 160
PADDING = 6
STAR_SIZE = 24
CHECKBOX_SIZE = 18
CHANGED_DOT = 8
HIDDEN_OPACITY = 0.35
SCALED_CACHE_BYTES = 96 * 2**20
STAR_FILL = QColor("#e0a800")
STAR_OUTLINE = QColor("#8a6500")
CHANGED_COLOR = QColor("#e67e22")


class GalleryDelegate(QStyledItemDelegate):
    """Draws one gallery item at the current zoom and turns clicks on its controls into signals."""

    star_clicked = Signal(QModelIndex)
    enabled_clicked = Signal(QModelIndex)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._edge = DEFAULT_EDGE
        self._scaled: OrderedDict[tuple[str, int, int, float], QPixmap] = OrderedDict()
        self._scaled_bytes = 0
        self._checkerboard: dict[tuple[int, int], QPixmap] = {}

    # -- geometry --------------------------------------------------------------------

    @property
    def edge(self) -> int:
        return self._edge

    def set_edge(self, edge: int) -> None:
        """Set the thumbnail edge in pixels (clamped to MIN_EDGE..MAX_EDGE)."""
        self._edge = max(MIN_EDGE, min(MAX_EDGE, int(edge)))

    def footer_height(self, option: QStyleOptionViewItem | None = None) -> int:
        metrics = option.fontMetrics if option is not None else QFontMetrics(QApplication.font())
        return max(metrics.height(), CHECKBOX_SIZE) + 2 * PADDING

    def cell_size(self) -> QSize:
        return QSize(self._edge + 2 * PADDING, self._edge + PADDING + self.footer_height())

    def image_rect(self, cell: QRect) -> QRect:
        return QRect(cell.x() + PADDING, cell.y() + PADDING, self._edge, self._edge)

    def star_rect(self, cell: QRect) -> QRect:
        image = self.image_rect(cell)
        return QRect(image.right() - STAR_SIZE - 3, image.top() + 3, STAR_SIZE, STAR_SIZE)

    def footer_rect(self, cell: QRect) -> QRect:
        image = self.image_rect(cell)
        return QRect(image.left(), image.bottom() + 1, image.width(), self.footer_height())

    def checkbox_rect(self, cell: QRect) -> QRect:
        footer = self.footer_rect(cell)
        top = footer.center().y() - CHECKBOX_SIZE // 2
        return QRect(footer.left(), top, CHECKBOX_SIZE, CHECKBOX_SIZE)

    def name_rect(self, cell: QRect) -> QRect:
        footer = self.footer_rect(cell)
        left = footer.left() + CHECKBOX_SIZE + PADDING
        right = footer.right() - CHANGED_DOT - PADDING
        return QRect(left, footer.top() + 2, max(1, right - left), footer.height() - 4)

    def changed_dot_rect(self, cell: QRect) -> QRect:
        footer = self.footer_rect(cell)
        top = footer.center().y() - CHANGED_DOT // 2
        return QRect(footer.right() - CHANGED_DOT, top, CHANGED_DOT, CHANGED_DOT)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return self.cell_size()

    # -- painting --------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        cell = option.rect
        enabled = bool(index.data(Role.IsEnabled))
        self._paint_selection(painter, option)
        painter.setOpacity(1.0 if enabled else HIDDEN_OPACITY)
        self._paint_thumbnail(painter, option, index)
        painter.setOpacity(1.0)
        if not enabled:
            self._paint_hidden_badge(painter, option)
        self._paint_position(painter, option, int(index.data(Role.Position) or 0))
        self._paint_star(painter, option, bool(index.data(Role.IsThumbnail)))
        self._paint_checkbox(painter, option, enabled)
        self._paint_name(painter, option, str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        if index.data(Role.IsChanged):
            self._paint_changed_dot(painter, self.changed_dot_rect(cell))
        self._paint_focus(painter, option)
        painter.restore()

    def _paint_selection(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        if not option.state & QStyle.StateFlag.State_Selected:
            return
        highlight = QColor(option.palette.color(QPalette.ColorRole.Highlight))
        fill = QColor(highlight)
        fill.setAlpha(70)
        painter.setPen(QPen(highlight, 2))
        painter.setBrush(fill)
        painter.drawRoundedRect(option.rect.adjusted(1, 1, -1, -1), 6, 6)

    def _paint_focus(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        if not option.state & QStyle.StateFlag.State_HasFocus:
            return
        pen = QPen(option.palette.color(QPalette.ColorRole.Text), 1, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(option.rect.adjusted(3, 3, -3, -3), 5, 5)

    def _paint_thumbnail(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        area = self.image_rect(option.rect)
        state = index.data(Role.ThumbnailState)
        image = index.data(Role.Thumbnail) if state == ThumbnailState.Loaded else None
        if isinstance(image, QImage) and not image.isNull():
            url = str(index.data(Role.ImageUrl) or "")
            pixmap = self._scaled_pixmap(url, image, painter.device().devicePixelRatioF())
            target = self._centered(area, pixmap)
            painter.drawTiledPixmap(target, self._checker_tile(option.palette))
            painter.drawPixmap(target.topLeft(), pixmap)
        elif state == ThumbnailState.Failed:
            self._paint_placeholder(painter, option, area, "Image not available", broken=True)
        else:
            self._paint_placeholder(painter, option, area, "Loading…", broken=False)

    def _paint_placeholder(
        self, painter: QPainter, option: QStyleOptionViewItem, area: QRect, text: str, *, broken: bool
    ) -> None:
        palette = option.palette
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
        painter.setBrush(palette.brush(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(area.adjusted(1, 1, -1, -1), 4, 4)
        text_rect = QRect(area)
        if broken:
            side = min(48, area.width() // 3)
            icon_rect = QRect(area.center().x() - side // 2, area.center().y() - side, side, side)
            icon("broken-image").paint(painter, icon_rect)
            text_rect.setTop(icon_rect.bottom() + 4)
            text_rect.setHeight(option.fontMetrics.height() * 2)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _paint_hidden_badge(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        area = self.image_rect(option.rect)
        metrics = option.fontMetrics
        width = metrics.horizontalAdvance("Hidden") + 16
        height = metrics.height() + 6
        badge = QRect(area.center().x() - width // 2, area.bottom() - height - 8, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        background = QColor(option.palette.color(QPalette.ColorRole.WindowText))
        background.setAlpha(215)
        painter.setBrush(background)
        painter.drawRoundedRect(badge, height / 2, height / 2)
        painter.setPen(option.palette.color(QPalette.ColorRole.Window))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "Hidden")

    def _paint_position(self, painter: QPainter, option: QStyleOptionViewItem, position: int) -> None:
        area = self.image_rect(option.rect)
        text = str(position)
        metrics = option.fontMetrics
        height = metrics.height() + 2
        width = max(height, metrics.horizontalAdvance(text) + 10)
        badge = QRect(area.left() + 3, area.top() + 3, width, height)
        background = QColor(option.palette.color(QPalette.ColorRole.Window))
        background.setAlpha(220)
        painter.setPen(QPen(option.palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(background)
        painter.drawRoundedRect(badge, height / 2, height / 2)
        painter.setPen(option.palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_star(self, painter: QPainter, option: QStyleOptionViewItem, is_thumbnail: bool) -> None:
        box = self.star_rect(option.rect)
        background = QColor(option.palette.color(QPalette.ColorRole.Base))
        background.setAlpha(200)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawEllipse(box)
        path = star_path(box.adjusted(3, 3, -3, -3))
        if is_thumbnail:
            painter.setPen(QPen(STAR_OUTLINE, 1.2))
            painter.setBrush(STAR_FILL)
        else:
            painter.setPen(QPen(option.palette.color(QPalette.ColorRole.Text), 1.4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)

    def _paint_checkbox(self, painter: QPainter, option: QStyleOptionViewItem, checked: bool) -> None:
        button = QStyleOptionButton()
        button.rect = self.checkbox_rect(option.rect)
        button.palette = option.palette
        button.state = QStyle.StateFlag.State_Enabled | (
            QStyle.StateFlag.State_On if checked else QStyle.StateFlag.State_Off
        )
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorCheckBox, button, painter, option.widget)

    def _paint_name(self, painter: QPainter, option: QStyleOptionViewItem, name: str) -> None:
        area = self.name_rect(option.rect)
        elided = option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, area.width())
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(area, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)

    def _paint_changed_dot(self, painter: QPainter, area: QRect) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(CHANGED_COLOR)
        painter.drawEllipse(area)

    # -- cached work -----------------------------------------------------------------

    def _scaled_pixmap(self, url: str, image: QImage, ratio: float) -> QPixmap:
        """Return `image` scaled to the current edge, cached per (url, image, edge, ratio)."""
        key = (url, image.cacheKey(), self._edge, ratio)
        pixmap = self._scaled.get(key)
        if pixmap is not None:
            self._scaled.move_to_end(key)
            return pixmap
        device_edge = round(self._edge * ratio)
        scaled = image.scaled(
            device_edge,
            device_edge,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        pixmap = QPixmap.fromImage(scaled)
        pixmap.setDevicePixelRatio(ratio)
        self._remember(key, pixmap)
        return pixmap

    def _remember(self, key: tuple[str, int, int, float], pixmap: QPixmap) -> None:
        self._scaled[key] = pixmap
        self._scaled_bytes += pixmap_bytes(pixmap)
        while self._scaled_bytes > SCALED_CACHE_BYTES and len(self._scaled) > 1:
            _old_key, old = self._scaled.popitem(last=False)
            self._scaled_bytes -= pixmap_bytes(old)

    def clear_cache(self) -> None:
        self._scaled.clear()
        self._scaled_bytes = 0

    def _checker_tile(self, palette: QPalette) -> QPixmap:
        base = palette.color(QPalette.ColorRole.Base)
        key = (base.rgba(), palette.color(QPalette.ColorRole.Mid).rgba())
        tile = self._checkerboard.get(key)
        if tile is None:
            tile = checkerboard_tile(base)
            self._checkerboard[key] = tile
        return tile

    @staticmethod
    def _centered(area: QRect, pixmap: QPixmap) -> QRect:
        size = pixmap.deviceIndependentSize().toSize()
        left = area.x() + (area.width() - size.width()) // 2
        top = area.y() + (area.height() - size.height()) // 2
        return QRect(QPoint(left, top), size)

    # -- editing and clicks ------------------------------------------------------------

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setAccessibleName("Image name")
        editor.setFrame(True)
        return editor

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: object, index: AnyIndex) -> None:
        if isinstance(editor, QLineEdit):
            index.model().setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        area = self.name_rect(option.rect)
        height = max(area.height(), editor.sizeHint().height())
        editor.setGeometry(QRect(area.left() - 2, area.center().y() - height // 2, area.width() + 4, height))

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        """Turn left clicks on the star or the checkbox into `star_clicked`/`enabled_clicked`."""
        if not isinstance(event, QMouseEvent) or event.button() != Qt.MouseButton.LeftButton:
            return super().editorEvent(event, model, option, index)
        position = event.position().toPoint()
        on_star = self.star_rect(option.rect).contains(position)
        on_checkbox = self.checkbox_rect(option.rect).adjusted(-3, -3, 3, 3).contains(position)
        if not (on_star or on_checkbox):
            return super().editorEvent(event, model, option, index)
        if event.type() == QEvent.Type.MouseButtonRelease:
            signal = self.star_clicked if on_star else self.enabled_clicked
            signal.emit(QModelIndex(index))
        return True


def star_path(box: QRect) -> QPainterPath:
    """Return a five-pointed star inscribed in `box`."""
    center = QPointF(box.center())
    outer = min(box.width(), box.height()) / 2
    inner = outer * 0.45
    path = QPainterPath()
    for point in range(10):
        radius = outer if point % 2 == 0 else inner
        angle = -pi / 2 + point * pi / 5
        vertex = QPointF(center.x() + radius * cos(angle), center.y() + radius * sin(angle))
        if point == 0:
            path.moveTo(vertex)
        else:
            path.lineTo(vertex)
    path.closeSubpath()
    return path


def checkerboard_tile(base: QColor, square: int = 8) -> QPixmap:
    """Return a 2x2-square tile of two neutral shades near `base`, to show transparency."""
    tile = QPixmap(square * 2, square * 2)
    light = QColor(base)
    dark = base.darker(112) if base.lightness() > 128 else base.lighter(135)
    tile.fill(light)
    painter = QPainter(tile)
    painter.fillRect(0, 0, square, square, QBrush(dark))
    painter.fillRect(square, square, square, square, QBrush(dark))
    painter.end()
    return tile


def pixmap_bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)
