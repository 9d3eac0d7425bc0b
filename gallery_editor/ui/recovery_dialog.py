"""Start-up list of products with unsaved changes from an earlier run: open, discard or later."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gallery_editor.journal import SessionSummary

logger = logging.getLogger(__name__)

MAX_BANNER_NAMES = 3
PRODUCT_ID_ROLE = Qt.ItemDataRole.UserRole
INTRO_TEXT = (
    "Gallery Editor closed before these changes were saved to the server. They are kept "
    "on this computer. Open a product to continue, or discard its changes."
)


def pending_banner_text(summaries: Sequence[SessionSummary]) -> str:
    """Describe unsaved sessions in one line for a banner, or return "" when there are none."""
    if not summaries:
        return ""
    if len(summaries) == 1:
        summary = summaries[0]
        return f"1 product has unsaved changes: {summary.product_name} ({_images_text(summary)})"
    names = [summary.product_name for summary in summaries[:MAX_BANNER_NAMES]]
    rest = len(summaries) - len(names)
    listed = ", ".join(names) + (f" and {rest} more" if rest else "")
    return f"{len(summaries)} products have unsaved changes: {listed}"


def last_edited_text(updated_at: datetime, now: datetime | None = None) -> str:
    """Format when a session was last edited in local time: "today 14:32" or "2024-05-03 14:32"."""
    local = updated_at.astimezone()
    local_now = (now or datetime.now().astimezone()).astimezone()
    if local.date() == local_now.date():
        return local.strftime("today %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def recovered_journal_text(moved_to: Path) -> str:
    """Tell the user that a damaged journal was moved aside and where it is now."""
    return (
        f"The change journal was damaged and was moved to {moved_to}. A new journal was "
        "started, so unsaved changes from before may be missing. Keep that file if you "
        "want someone to try to recover it."
    )


def _images_text(summary: SessionSummary) -> str:
    count = summary.change_count
    if count == 0:
        return "no net change"
    return "1 changed image" if count == 1 else f"{count} changed images"


class RecoveryDialog(QDialog):
    """A list of journaled sessions with *Open*, *Discard…* (confirmed first) and *Later*.

    ``open_requested`` is emitted with the chosen product id before the dialog accepts.
    ``discard_confirmed`` is emitted after the user confirmed, and the caller deletes the
    session (``SessionKeeper.discard``). The dialog closes itself when the list is empty.
    Keys: Return opens, Delete discards, Escape is *Later*.
    """

    open_requested = Signal(str)
    discard_confirmed = Signal(str)

    def __init__(
        self,
        summaries: Sequence[SessionSummary],
        parent: QWidget | None = None,
        *,
        recovered_from: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unsaved changes")
        self.setObjectName("recovery_dialog")
        self.confirmation: QMessageBox | None = None
        self._open_emitted = False
        self._build(recovered_from)
        self._fill(summaries)
        self._update_buttons()

    # -- public interface ----------------------------------------------------------------------

    def product_ids(self) -> list[str]:
        return [self._tree.topLevelItem(row).data(0, PRODUCT_ID_ROLE) for row in self._rows()]

    def selected_product_id(self) -> str | None:
        item = self._tree.currentItem()
        return None if item is None else str(item.data(0, PRODUCT_ID_ROLE))

    def select_product(self, product_id: str) -> None:
        for row in self._rows():
            item = self._tree.topLevelItem(row)
            if item.data(0, PRODUCT_ID_ROLE) == product_id:
                self._tree.setCurrentItem(item)
                return
        raise KeyError(f"Product {product_id!r} is not in the list of unsaved sessions")

    def tree(self) -> QTreeWidget:
        return self._tree

    def open_button(self) -> QPushButton:
        return self._open_button

    def discard_button(self) -> QPushButton:
        return self._discard_button

    def later_button(self) -> QPushButton:
        return self._later_button

    def request_open(self) -> None:
        """Emit ``open_requested`` for the selected product and close the dialog."""
        product_id = self.selected_product_id()
        if product_id is None or self._open_emitted:
            # Return on the list activates the item and also presses the default button.
            return
        self._open_emitted = True
        logger.info("Recovery: opening product %s", product_id)
        self.open_requested.emit(product_id)
        self.accept()

    def request_discard(self) -> None:
        """Ask whether to discard the selected product's changes (window-modal, not blocking)."""
        item = self._tree.currentItem()
        if item is None or self.confirmation is not None:
            return
        product_id = str(item.data(0, PRODUCT_ID_ROLE))
        name = item.text(0)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Discard unsaved changes?",
            f"Discard the unsaved changes to {name} ({item.text(1)})? The gallery goes back "
            "to the server's state. This cannot be undone.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("discard_confirmation")
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.finished.connect(lambda _result: self._on_confirmation(box, discard, product_id))
        self.confirmation = box
        box.open()

    # -- building ------------------------------------------------------------------------------

    def _build(self, recovered_from: Path | None) -> None:
        intro = QLabel(INTRO_TEXT, self)
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if recovered_from is not None:
            notice = QLabel(recovered_journal_text(recovered_from), self)
            notice.setObjectName("recovered_notice")
            notice.setWordWrap(True)
            notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(notice)

        self._tree = QTreeWidget(self)
        self._tree.setHeaderLabels(["Product", "Changes", "Last edited"])
        self._tree.setRootIsDecorated(False)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._tree.setAccessibleName("Products with unsaved changes")
        self._tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._tree.header().setStretchLastSection(False)
        self._tree.itemActivated.connect(lambda _item, _column: self.request_open())
        self._tree.currentItemChanged.connect(lambda *_args: self._update_buttons())
        intro.setBuddy(self._tree)
        layout.addWidget(self._tree)

        buttons = QDialogButtonBox(self)
        self._open_button = buttons.addButton("&Open", QDialogButtonBox.ButtonRole.AcceptRole)
        self._discard_button = buttons.addButton(
            "&Discard…", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self._later_button = buttons.addButton("&Later", QDialogButtonBox.ButtonRole.RejectRole)
        self._open_button.setDefault(True)
        self._open_button.clicked.connect(self.request_open)
        self._discard_button.clicked.connect(self.request_discard)
        self._later_button.clicked.connect(self.reject)
        layout.addWidget(buttons)

        shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self._tree)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self.request_discard)
        self.resize(560, 320)

    def _fill(self, summaries: Sequence[SessionSummary]) -> None:
        for summary in summaries:
            item = QTreeWidgetItem(
                [summary.product_name, _images_text(summary), last_edited_text(summary.updated_at)]
            )
            item.setData(0, PRODUCT_ID_ROLE, summary.product_id)
            item.setToolTip(0, f"Product id {summary.product_id}")
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._tree.addTopLevelItem(item)
        for column in (1, 2):
            self._tree.resizeColumnToContents(column)
        if self._tree.topLevelItemCount():
            self._tree.setCurrentItem(self._tree.topLevelItem(0))
        self._tree.setFocus()

    # -- reacting ------------------------------------------------------------------------------

    def _on_confirmation(self, box: QMessageBox, discard: QPushButton, product_id: str) -> None:
        self.confirmation = None
        box.deleteLater()
        if box.clickedButton() is not discard:
            return
        logger.info("Recovery: discarding the unsaved changes of product %s", product_id)
        self._remove(product_id)
        self.discard_confirmed.emit(product_id)
        if self._tree.topLevelItemCount() == 0:
            self.accept()

    def _remove(self, product_id: str) -> None:
        for row in self._rows():
            if self._tree.topLevelItem(row).data(0, PRODUCT_ID_ROLE) == product_id:
                self._tree.takeTopLevelItem(row)
                break
        self._update_buttons()
        self._tree.setFocus()

    def _update_buttons(self) -> None:
        has_selection = self._tree.currentItem() is not None
        self._open_button.setEnabled(has_selection)
        self._discard_button.setEnabled(has_selection)

    def _rows(self) -> range:
        return range(self._tree.topLevelItemCount())


class PendingBanner(QFrame):
    """A non-modal strip "2 products have unsaved changes: …" with a *Review…* button."""

    review_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pending_banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._button = QPushButton("&Review…", self)
        self._button.clicked.connect(self.review_requested)
        layout = QHBoxLayout(self)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._button)
        self.set_summaries([])

    def set_summaries(self, summaries: Sequence[SessionSummary]) -> None:
        """Show the text for ``summaries``; the banner hides itself when there are none."""
        text = pending_banner_text(summaries)
        self._label.setText(text)
        self.setVisible(bool(text))

    def text(self) -> str:
        return self._label.text()

    def review_button(self) -> QPushButton:
        return self._button
