"""Review dock: a gallery's pending changes in plain words, reverts, warnings, save size."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QPolygonF,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionViewItem,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gallery_editor.domain.gallery import Edit, Gallery, GalleryEvent, quote
from gallery_editor.domain.review import (
    ImageReview,
    RevertTarget,
    ServerUpdateLike,
    describe_changes,
    patch_count,
    revert_edit,
    warnings,
)
from gallery_editor.ui.commands import EditCommand

logger = logging.getLogger(__name__)

ThumbnailSource = Callable[[str], QImage | None]

# Edits often come in bursts (a drag, a multi-select toggle), so the dock waits this long
# after the last change before it describes the gallery again.
REFRESH_DELAY_MS = 100

# Item data: what the Revert button of a tree row reverts.
REVERT_ROLE = Qt.ItemDataRole.UserRole + 1
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2

CHANGE_COLUMN, REVERT_COLUMN = 0, 1

# Captions of the order strip's two rows: the server's order and the new order.
ROW_LABELS = ("Server", "New")


class ReviewDock(QDockWidget):
    """Dock listing the current gallery's pending changes before a save."""

    refreshed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Review changes", parent)
        self.setObjectName("review_dock")
        self._gallery: Gallery | None = None
        self._undo_stack: QUndoStack | None = None
        self._thumbnail_for: ThumbnailSource | None = None
        self._server_updates: list[ServerUpdateLike] = []
        self._last_plan_error: str | None = None
        self._subscription = _Subscription()
        self.destroyed.connect(self._subscription.cancel)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh_now)

        self._build_widgets()
        self.refresh_now()

    # -- public interface --------------------------------------------------------------

    def set_gallery(
        self,
        gallery: Gallery | None,
        undo_stack: QUndoStack | None,
        thumbnail_for: ThumbnailSource | None = None,
    ) -> None:
        """Show the pending changes of `gallery`; reverts go onto `undo_stack`.

        `thumbnail_for(image_id)` returns the image's thumbnail for the order strip, or
        None to show a numbered chip. Passing None as the gallery clears the dock.
        """
        self._subscription.cancel()
        self._gallery = gallery
        self._undo_stack = undo_stack if gallery is not None else None
        self._thumbnail_for = thumbnail_for
        self._server_updates = []
        if gallery is not None:
            self._subscription.set(gallery.subscribe(self._on_gallery_event))
        self.refresh_now()

    def set_server_updates(self, updates: Sequence[ServerUpdateLike]) -> None:
        """Show these server changes as "Updated on the server" lines until the next gallery."""
        self._server_updates = list(updates)
        self.schedule_refresh()

    def gallery(self) -> Gallery | None:
        return self._gallery

    def schedule_refresh(self) -> None:
        """Refresh after `REFRESH_DELAY_MS`, restarting the wait on every call."""
        self._refresh_timer.start()

    def refresh_now(self) -> None:
        """Describe the gallery again and update every part of the dock."""
        self._refresh_timer.stop()
        reviews = self._reviews()
        self._update_summary()
        self._update_warnings()
        self._update_strip()
        self._fill_tree(reviews)
        self._update_buttons()
        self.refreshed.emit()

    def change_tree(self) -> QTreeWidget:
        return self._tree

    def order_strip(self) -> OrderStrip:
        return self._strip

    def request_text(self) -> str:
        return self._requests_label.text()

    def warning_texts(self) -> list[str]:
        return list(self._warning_texts)

    def revert(self, target: RevertTarget) -> bool:
        """Push the undo command that reverts one change; returns False when nothing changed."""
        gallery = self._gallery
        if gallery is None:
            return False
        edit = revert_edit(gallery, target)
        if edit is None:
            logger.info("Nothing to revert for %s of image %s", target.field, target.image_id)
            return False
        self._push([edit], edit.text)
        return True

    def revert_image(self, image_id: str) -> bool:
        """Push one undo macro that reverts every pending change of one image."""
        gallery = self._gallery
        if gallery is None or image_id not in gallery.order:
            return False
        targets = [
            line.revert
            for review in describe_changes(gallery)
            if review.image_id == image_id
            for line in review.changes
            if line.revert is not None
        ]
        text = f"Revert changes of {quote(gallery.fields(image_id).name)}"
        return self._push_built_in_turn(targets, text)

    def revert_current(self) -> bool:
        """Revert the current tree row: one change, or every change of an image row."""
        item = self._tree.currentItem()
        if item is None:
            return False
        return self._revert_item(item)

    def request_discard_all(self) -> None:
        """Ask for confirmation, then discard every pending change as one undo step."""
        gallery = self._gallery
        if gallery is None or not gallery.is_modified():
            return
        count = len(gallery.changed_image_ids())
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Discard all changes",
            f"Discard the pending changes to {_plural(count, 'image')}? The gallery goes back "
            "to the server's state. Edit › Undo brings the changes back.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("discard_all_confirmation")
        discard = box.addButton("Discard all", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.discard_all() if button is discard else None
        )
        box.open()

    def discard_all(self) -> bool:
        """Push the edits that restore the server state as one undo macro, without asking."""
        gallery = self._gallery
        if gallery is None:
            return False
        edits = gallery.make_discard_all()
        if not edits:
            return False
        self._push(edits, "Discard all changes")
        return True

    # -- building the widgets ----------------------------------------------------------

    def _build_widgets(self) -> None:
        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)

        self._summary_label = QLabel(content)
        self._summary_label.setWordWrap(True)
        self._summary_label.setObjectName("review_summary")
        self._requests_label = QLabel(content)
        self._requests_label.setWordWrap(True)
        self._requests_label.setObjectName("review_requests")
        self._requests_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        layout.addWidget(self._summary_label)
        layout.addWidget(self._requests_label)

        self._warnings_box = QWidget(content)
        self._warnings_layout = QVBoxLayout(self._warnings_box)
        self._warnings_layout.setContentsMargins(0, 0, 0, 0)
        self._warning_texts: list[str] = []
        layout.addWidget(self._warnings_box)

        layout.addWidget(self._build_strip(content))
        layout.addWidget(self._build_tree(content), 1)
        layout.addLayout(self._build_buttons(content))
        self.setWidget(content)

    def _build_strip(self, parent: QWidget) -> QWidget:
        self._strip = OrderStrip()
        self._strip_area = QScrollArea(parent)
        self._strip_area.setObjectName("order_strip_area")
        self._strip_area.setWidget(self._strip)
        self._strip_area.setWidgetResizable(False)
        self._strip_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._strip_area.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._strip_area.setAccessibleName("Server order and new order")
        self._strip_area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._strip_area.installEventFilter(self)
        return self._strip_area

    def _build_tree(self, parent: QWidget) -> QTreeWidget:
        tree = QTreeWidget(parent)
        tree.setObjectName("review_changes")
        tree.setAccessibleName("Pending changes")
        tree.setColumnCount(2)
        tree.setHeaderLabels(["Change", ""])
        tree.setHeaderHidden(True)
        tree.setRootIsDecorated(True)
        # Change lines are sentences: wrap them in a narrow dock instead of eliding them.
        tree.setWordWrap(True)
        tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(CHANGE_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(REVERT_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        # Row heights of wrapped lines depend on the column width: lay out again on resize.
        tree.setItemDelegateForColumn(CHANGE_COLUMN, WrappingTextDelegate(tree))
        header.sectionResized.connect(lambda *_: tree.scheduleDelayedItemsLayout())

        self._button_delegate = RevertButtonDelegate(tree)
        self._button_delegate.clicked.connect(self._on_button_clicked)
        tree.setItemDelegateForColumn(REVERT_COLUMN, self._button_delegate)

        self._revert_action = QAction("&Revert", tree)
        self._revert_action.setShortcuts(
            [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)]
        )
        self._revert_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self._revert_action.setToolTip("Revert the selected change (Delete)")
        self._revert_action.triggered.connect(self.revert_current)
        tree.addAction(self._revert_action)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._show_context_menu)
        tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self._tree = tree
        return tree

    def _build_buttons(self, parent: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        self._revert_button = QPushButton("&Revert selected", parent)
        self._revert_button.setObjectName("revert_selected")
        self._revert_button.setToolTip(
            "Revert the selected change, or every change of the selected image"
        )
        self._revert_button.clicked.connect(self.revert_current)
        self._discard_button = QPushButton("&Discard all…", parent)
        self._discard_button.setObjectName("discard_all")
        self._discard_button.setToolTip("Bring the whole gallery back to the server's state")
        self._discard_button.clicked.connect(self.request_discard_all)
        row.addWidget(self._revert_button)
        row.addStretch(1)
        row.addWidget(self._discard_button)
        return row

    # -- refreshing --------------------------------------------------------------------

    def _on_gallery_event(self, event: GalleryEvent) -> None:
        self.schedule_refresh()

    def _reviews(self) -> list[ImageReview]:
        if self._gallery is None:
            return []
        return describe_changes(self._gallery, self._server_updates)

    def _update_summary(self) -> None:
        gallery = self._gallery
        if gallery is None:
            self._summary_label.setText("Open a product to review its changes.")
            self._requests_label.setText("")
            return
        changed = len(gallery.changed_image_ids())
        if changed:
            self._summary_label.setText(f"<b>{_plural(changed, 'image')} changed</b>")
        else:
            self._summary_label.setText(
                "No pending changes. Changes to the gallery are listed here."
            )
        self._requests_label.setText(self._request_words(gallery))

    def _request_words(self, gallery: Gallery) -> str:
        try:
            count = patch_count(gallery)
        except ValueError as error:
            # Every refresh plans again, so the same failure is logged once, not per edit.
            if str(error) != self._last_plan_error:
                logger.warning("Cannot plan the save of product %s: %s", gallery.product_id, error)
                self._last_plan_error = str(error)
            return f"This save cannot be planned: {error}. Undo or revert that change."
        self._last_plan_error = None
        if count == 0:
            return "Nothing to save."
        return f"This save will make {_plural(count, 'request')}."

    def _update_warnings(self) -> None:
        texts = warnings(self._gallery) if self._gallery is not None else []
        if texts == self._warning_texts:
            return
        self._warning_texts = texts
        while self._warnings_layout.count():
            child = self._warnings_layout.takeAt(0).widget()
            if child is not None:
                # Hidden at once, because deleteLater leaves it painted until the next pass.
                child.hide()
                child.deleteLater()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        for text in texts:
            row = _warning_row(icon.pixmap(size, size), text, self._warnings_box)
            self._warnings_layout.addWidget(row)
            # A layout shows a new child only on the next event loop pass. Showing it now
            # keeps a grab taken right after the refresh complete.
            row.show()
        self._warnings_box.setVisible(bool(texts))

    def _update_strip(self) -> None:
        gallery = self._gallery
        if gallery is None:
            self._strip.set_orders([], [], frozenset(), {})
            self._strip_area.setVisible(False)
            return
        chips = {
            image_id: _chip_of(gallery, image_id, self._thumbnail_for)
            for image_id in gallery.order
        }
        self._strip.set_orders(
            gallery.server_order(), gallery.order, gallery.moved_image_ids(), chips
        )
        self._strip_area.setVisible(len(gallery) > 0)
        self._strip_area.setAccessibleDescription(self._strip.accessible_summary())
        self._fit_strip_height()

    def _fit_strip_height(self) -> None:
        area = self._strip_area
        height = self._strip.sizeHint().height() + 2 * area.frameWidth()
        if self._strip.sizeHint().width() > area.width() - 2 * area.frameWidth():
            height += area.horizontalScrollBar().sizeHint().height()
        area.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The strip needs room for a scroll bar only when it is wider than its area, which
        # is known once the layout has sized the area.
        if watched is self._strip_area and event.type() == QEvent.Type.Resize:
            self._fit_strip_height()
        return super().eventFilter(watched, event)

    def _fill_tree(self, reviews: list[ImageReview]) -> None:
        tree = self._tree
        current = _item_key(tree.currentItem())
        collapsed = {
            tree.topLevelItem(row).data(CHANGE_COLUMN, IMAGE_ID_ROLE)
            for row in range(tree.topLevelItemCount())
            if not tree.topLevelItem(row).isExpanded()
        }
        scroll = tree.verticalScrollBar().value()

        tree.setUpdatesEnabled(False)
        tree.clear()
        restored: QTreeWidgetItem | None = None
        for review in reviews:
            top = _image_item(review)
            tree.addTopLevelItem(top)
            top.setExpanded(review.image_id not in collapsed)
            for item in (top, *(top.child(i) for i in range(top.childCount()))):
                if _item_key(item) == current:
                    restored = item
        if restored is not None:
            tree.setCurrentItem(restored)
        tree.setUpdatesEnabled(True)
        tree.verticalScrollBar().setValue(scroll)

    def _update_buttons(self) -> None:
        modified = self._gallery is not None and self._gallery.is_modified()
        self._discard_button.setEnabled(modified)
        item = self._tree.currentItem()
        # Only rows with something to revert show a button text in the revert column.
        can_revert = item is not None and bool(item.text(REVERT_COLUMN))
        self._revert_button.setEnabled(can_revert)
        self._revert_action.setEnabled(can_revert)

    # -- reverting ---------------------------------------------------------------------

    def _on_button_clicked(self, index: QModelIndex) -> None:
        item = self._tree.itemFromIndex(index.siblingAtColumn(CHANGE_COLUMN))
        if item is not None:
            self._revert_item(item)

    def _revert_item(self, item: QTreeWidgetItem) -> bool:
        target = item.data(CHANGE_COLUMN, REVERT_ROLE)
        if isinstance(target, RevertTarget):
            return self.revert(target)
        image_id = item.data(CHANGE_COLUMN, IMAGE_ID_ROLE)
        if isinstance(image_id, str) and item.parent() is None:
            return self.revert_image(image_id)
        return False

    def _show_context_menu(self, position: QPoint) -> None:
        item = self._tree.itemAt(position)
        if item is None:
            return
        self._tree.setCurrentItem(item)
        menu = QMenu(self._tree)
        menu.addAction(self._revert_action)
        menu.addSeparator()
        discard = menu.addAction("Discard all…")
        discard.setEnabled(self._discard_button.isEnabled())
        discard.triggered.connect(self.request_discard_all)
        menu.exec(self._tree.viewport().mapToGlobal(position))

    def _push(self, edits: Sequence[Edit], text: str) -> None:
        stack, gallery = self._undo_stack, self._gallery
        if gallery is None:
            return
        if stack is None:
            # Without a stack the revert still happens, but it cannot be undone.
            logger.warning("The review dock has no undo stack; applying %r directly", text)
            for edit in edits:
                gallery.apply(edit)
            return
        if len(edits) == 1 and edits[0].text == text:
            stack.push(EditCommand(gallery, edits[0]))
            return
        stack.beginMacro(text)
        for edit in edits:
            stack.push(EditCommand(gallery, edit))
        stack.endMacro()

    def _push_built_in_turn(self, targets: Sequence[RevertTarget], text: str) -> bool:
        # Each revert must be built for the state the previous one left, so they are built
        # and pushed one at a time inside one macro.
        # The macro starts with the first real edit, so no empty step lands on the stack.
        gallery, stack = self._gallery, self._undo_stack
        if gallery is None:
            return False
        pushed = 0
        for target in targets:
            edit = revert_edit(gallery, target)
            if edit is None:
                continue
            if pushed == 0 and stack is not None:
                stack.beginMacro(text)
            self._push([edit], edit.text)
            pushed += 1
        if pushed and stack is not None:
            stack.endMacro()
        return pushed > 0


@dataclass
class _Subscription:
    """The gallery subscription of a dock, cancelled when the dock goes away."""

    unsubscribe: Callable[[], None] | None = field(default=None)

    def set(self, unsubscribe: Callable[[], None]) -> None:
        self.unsubscribe = unsubscribe

    def cancel(self, *_: object) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _item_key(item: QTreeWidgetItem | None) -> tuple[object, ...] | None:
    if item is None:
        return None
    parent = item.parent()
    if parent is None:
        return ("image", item.data(CHANGE_COLUMN, IMAGE_ID_ROLE))
    return ("line", parent.data(CHANGE_COLUMN, IMAGE_ID_ROLE), item.text(CHANGE_COLUMN))


def _image_item(review: ImageReview) -> QTreeWidgetItem:
    title = f"{review.position}. {review.display_name}" if review.position else review.display_name
    top = QTreeWidgetItem([title, ""])
    top.setData(CHANGE_COLUMN, IMAGE_ID_ROLE, review.image_id)
    top.setToolTip(CHANGE_COLUMN, title)
    font = QFont(top.font(CHANGE_COLUMN))
    font.setBold(True)
    top.setFont(CHANGE_COLUMN, font)
    top.setToolTip(CHANGE_COLUMN, f"Image {review.image_id}")
    if any(line.revert is not None for line in review.changes):
        top.setText(REVERT_COLUMN, "Revert all")
        top.setToolTip(REVERT_COLUMN, "Revert every change of this image")
    for line in review.changes:
        child = QTreeWidgetItem([line.text, ""])
        child.setData(CHANGE_COLUMN, REVERT_ROLE, line.revert)
        child.setToolTip(CHANGE_COLUMN, line.text)
        if line.revert is not None:
            child.setText(REVERT_COLUMN, "Revert")
            child.setToolTip(REVERT_COLUMN, "Revert this change")
        else:
            italic = QFont(child.font(CHANGE_COLUMN))
            italic.setItalic(True)
            child.setFont(CHANGE_COLUMN, italic)
        top.addChild(child)
    return top


def _warning_row(pixmap: QPixmap, text: str, parent: QWidget) -> QWidget:
    row = QWidget(parent)
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    icon = QLabel(row)
    icon.setPixmap(pixmap)
    icon.setAlignment(Qt.AlignmentFlag.AlignTop)
    icon.setAccessibleName("Warning")
    label = QLabel(text, row)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setObjectName("review_warning")
    layout.addWidget(icon)
    layout.addWidget(label, 1)
    return row


# -- wrapped change lines ------------------------------------------------------------------


class WrappingTextDelegate(QStyledItemDelegate):
    """Delegate that sizes a row for its text wrapped to the column's current width."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self._tree = tree

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if not text:
            return hint
        depth = 0
        parent = index.parent()
        while parent.isValid():
            depth += 1
            parent = parent.parent()
        # The style adds padding around the text that the column width does not show.
        margin = 2 * self._tree.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 24
        width = self._tree.columnWidth(index.column()) - depth * self._tree.indentation() - margin
        if width <= 0:
            return hint
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        bounds = QFontMetrics(font).boundingRect(
            QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, str(text)
        )
        return QSize(hint.width(), max(hint.height(), bounds.height() + 6))


# -- the push button painted in the tree's revert column --------------------------------


class RevertButtonDelegate(QStyledItemDelegate):
    """Delegate that paints a cell's text as a push button and reports clicks on it."""

    clicked = Signal(QModelIndex)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pressed: QPersistentModelIndex | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if not text:
            return
        button = self._button_option(option, str(text))
        if self._pressed is not None and QModelIndex(self._pressed) == index:
            button.state |= QStyle.StateFlag.State_Sunken
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        text = index.data(Qt.ItemDataRole.DisplayRole)
        widget = option.widget
        if not text or widget is None:
            return QSize(0, 0)
        button = QStyleOptionButton()
        button.text = str(text)
        text_size = option.fontMetrics.size(Qt.TextFlag.TextShowMnemonic, str(text))
        size = widget.style().sizeFromContents(
            QStyle.ContentsType.CT_PushButton, button, text_size, widget
        )
        return QSize(size.width(), max(size.height() - 6, option.fontMetrics.height() + 6))

    def editorEvent(
        self,
        event: QEvent,
        model: object,
        option: QStyleOptionViewItem,
        index: QModelIndex,
    ) -> bool:
        if not isinstance(event, QMouseEvent):
            return False
        inside = option.rect.contains(event.position().toPoint())
        if event.type() == QEvent.Type.MouseButtonRelease and self._pressed is not None:
            # Like a push button, the click counts only when released over the pressed one.
            was_pressed = QModelIndex(self._pressed) == index
            self._pressed = None
            if inside and was_pressed:
                self.clicked.emit(index)
            return True
        has_button = bool(index.data(Qt.ItemDataRole.DisplayRole))
        if event.type() == QEvent.Type.MouseButtonPress and inside and has_button:
            self._pressed = QPersistentModelIndex(index)
            return True
        return False

    @staticmethod
    def _button_option(option: QStyleOptionViewItem, text: str) -> QStyleOptionButton:
        button = QStyleOptionButton()
        # A wrapped change line makes its row taller; keep the button one line high, at the top.
        rect = option.rect.adjusted(2, 1, -2, -1)
        line_height = option.fontMetrics.height() + 10
        if rect.height() > line_height:
            rect.setHeight(line_height)
        button.rect = rect
        button.text = text
        button.palette = option.palette
        button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
        return button


# -- the before/after strip --------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """The data the order strip draws for one image."""

    name: str
    enabled: bool
    server_enabled: bool
    starred: bool
    server_starred: bool
    thumbnail: QImage | None


def _chip_of(gallery: Gallery, image_id: str, thumbnail_for: ThumbnailSource | None) -> Chip:
    server = gallery.server_image(image_id)
    image = None
    if thumbnail_for is not None:
        image = thumbnail_for(image_id)
    return Chip(
        gallery.image(image_id).display_name,
        gallery.fields(image_id).enabled,
        server.enabled,
        gallery.fields(image_id).thumbnail,
        server.thumbnail,
        image if image is not None and not image.isNull() else None,
    )


class OrderStrip(QWidget):
    """Two rows of numbered chips, the server's order above and the new order below.

    Each chip carries the image's server position, so the lower row shows where every
    image went. The images the user moved are outlined in the highlight colour.
    """

    CHIP = 40
    GAP = 4
    ROW_GAP = 6
    MARGIN = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("order_strip")
        self._server_order: tuple[str, ...] = ()
        self._order: tuple[str, ...] = ()
        self._moved: frozenset[str] = frozenset()
        self._chips: dict[str, Chip] = {}
        self._server_rank: dict[str, int] = {}
        self._pixmaps: dict[str, tuple[int, QPixmap]] = {}

    def set_orders(
        self,
        server_order: Sequence[str],
        order: Sequence[str],
        moved: frozenset[str],
        chips: dict[str, Chip],
    ) -> None:
        """Show `server_order` above `order`, outlining the `moved` images."""
        self._server_order = tuple(server_order)
        self._order = tuple(order)
        self._moved = moved
        self._chips = chips
        self._server_rank = {image_id: rank for rank, image_id in enumerate(self._server_order)}
        self._pixmaps = {key: value for key, value in self._pixmaps.items() if key in chips}
        self.resize(self.sizeHint())
        self.updateGeometry()
        self.update()

    def label_width(self) -> int:
        metrics = self.fontMetrics()
        widest = max(metrics.horizontalAdvance(label) for label in ROW_LABELS)
        return widest + 2 * self.MARGIN

    def sizeHint(self) -> QSize:
        count = max(len(self._order), len(self._server_order))
        width = self.label_width() + count * (self.CHIP + self.GAP) + self.MARGIN
        height = 2 * self.CHIP + self.ROW_GAP + 2 * self.MARGIN
        return QSize(width, height)

    def chip_rect(self, row: int, index: int) -> QRect:
        """Return the rectangle of chip `index` in `row` (0 = server order, 1 = new order)."""
        x = self.label_width() + index * (self.CHIP + self.GAP)
        y = self.MARGIN + row * (self.CHIP + self.ROW_GAP)
        return QRect(x, y, self.CHIP, self.CHIP)

    def chip_at(self, point: QPoint) -> str | None:
        """Return the id of the image whose chip is under `point`, if any."""
        for row, order in enumerate((self._server_order, self._order)):
            index = (point.x() - self.label_width()) // (self.CHIP + self.GAP)
            if 0 <= index < len(order) and self.chip_rect(row, index).contains(point):
                return order[index]
        return None

    def accessible_summary(self) -> str:
        """Describe both orders in words, numbering images by their server position."""
        def listed(order: Sequence[str]) -> str:
            return ", ".join(
                f"{self._server_rank.get(image_id, 0) + 1} {self._chips[image_id].name}"
                for image_id in order
                if image_id in self._chips
            )
        return f"Server order: {listed(self._server_order)}. New order: {listed(self._order)}."

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            image_id = self.chip_at(event.pos())
            if image_id is not None and image_id in self._chips:
                chip = self._chips[image_id]
                position = self._server_rank.get(image_id, 0) + 1
                QToolTip.showText(event.globalPos(), f"{position}. {chip.name}", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_labels(painter)
        visible = event.rect()
        for row, order in enumerate((self._server_order, self._order)):
            for index, image_id in enumerate(order):
                rect = self.chip_rect(row, index)
                if rect.intersects(visible) and image_id in self._chips:
                    self._paint_chip(painter, rect, image_id, after=row == 1)
        painter.end()

    def _paint_labels(self, painter: QPainter) -> None:
        painter.setPen(self.palette().color(self.foregroundRole()))
        alignment = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        for row, text in enumerate(ROW_LABELS):
            rect = self.chip_rect(row, 0)
            label = QRect(self.MARGIN, rect.top(), self.label_width() - self.MARGIN, rect.height())
            painter.drawText(label, alignment, text)

    def _paint_chip(self, painter: QPainter, rect: QRect, image_id: str, *, after: bool) -> None:
        chip = self._chips[image_id]
        enabled = chip.enabled if after else chip.server_enabled
        starred = chip.starred if after else chip.server_starred
        painter.save()
        if not enabled:
            # Hidden images stay in the strip but fade, as they do in the gallery.
            painter.setOpacity(0.45)
        self._paint_face(painter, rect, image_id, chip)
        if starred:
            self._paint_star(painter, rect)
        painter.setOpacity(1.0)
        if image_id in self._moved:
            self._paint_outline(painter, rect)
        painter.restore()

    def _paint_face(self, painter: QPainter, rect: QRect, image_id: str, chip: Chip) -> None:
        palette = self.palette()
        painter.setPen(palette.color(palette.ColorRole.Mid))
        painter.setBrush(palette.color(palette.ColorRole.Base))
        painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 4, 4)
        number = str(self._server_rank.get(image_id, 0) + 1)
        pixmap = self._pixmap(image_id, chip)
        if pixmap is None:
            painter.setPen(palette.color(palette.ColorRole.Text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, number)
            return
        self._paint_thumbnail(painter, rect, pixmap)
        self._paint_badge(painter, rect, number)

    def _paint_outline(self, painter: QPainter, rect: QRect) -> None:
        outline = painter.pen()
        outline.setColor(self.palette().color(self.palette().ColorRole.Highlight))
        outline.setWidth(2)
        painter.setPen(outline)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4)

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, pixmap: QPixmap) -> None:
        inner = rect.adjusted(2, 2, -2, -2)
        x = inner.x() + (inner.width() - pixmap.width()) // 2
        y = inner.y() + (inner.height() - pixmap.height()) // 2
        painter.drawPixmap(x, y, pixmap)

    def _paint_badge(self, painter: QPainter, rect: QRect, number: str) -> None:
        palette = self.palette()
        metrics = self.fontMetrics()
        width = metrics.horizontalAdvance(number) + 6
        height = metrics.height()
        badge = QRect(rect.left() + 1, rect.bottom() - height - 1, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(palette.ColorRole.Window))
        painter.drawRoundedRect(badge, 3, 3)
        painter.setPen(palette.color(palette.ColorRole.WindowText))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, number)

    def _paint_star(self, painter: QPainter, rect: QRect) -> None:
        # A drawn polygon rather than a text glyph, because not every font has a star.
        radius = self.CHIP / 7
        centre = QPointF(rect.right() - radius - 3, rect.top() + radius + 3)
        points = [
            centre + QPointF(
                math.sin(math.pi * step / 5) * (radius if step % 2 == 0 else radius / 2.3),
                -math.cos(math.pi * step / 5) * (radius if step % 2 == 0 else radius / 2.3),
            )
            for step in range(10)
        ]
        palette = self.palette()
        painter.setPen(palette.color(palette.ColorRole.Base))
        painter.setBrush(palette.color(palette.ColorRole.Highlight))
        painter.drawPolygon(QPolygonF(points))

    def _pixmap(self, image_id: str, chip: Chip) -> QPixmap | None:
        image = chip.thumbnail
        if image is None:
            return None
        cached = self._pixmaps.get(image_id)
        if cached is not None and cached[0] == image.cacheKey():
            return cached[1]
        edge = self.CHIP - 4
        scaled = image.scaled(
            edge,
            edge,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        pixmap = QPixmap.fromImage(scaled)
        self._pixmaps[image_id] = (image.cacheKey(), pixmap)
        return pixmap
