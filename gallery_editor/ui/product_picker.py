"""The product picker: a debounced search box over the catalog and a list of results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from gallery_editor.api import NetworkError
from gallery_editor.domain.models import Product
from gallery_editor.ui.workers import JobRunner

if TYPE_CHECKING:
    from gallery_editor.api import KelviqClient

logger = logging.getLogger(__name__)

SEARCH_DELAY_MS = 300
PRODUCT_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ProductPicker(QWidget):
    """Search box and result list; Enter or a double-click on a result emits `product_chosen`."""

    product_chosen = Signal(str)
    search_finished = Signal(int)  # number of results shown

    def __init__(
        self,
        client: KelviqClient,
        parent: QWidget | None = None,
        *,
        offline_source: Callable[[], list[Product]] | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        # Runs on a worker thread when the API cannot be reached: products opened before.
        self._offline_source = offline_source
        self._runner = JobRunner(parent=self)
        self._generation = 0
        self.search_box = QLineEdit(self)
        self.results = QListWidget(self)
        self.status = QLabel(self)
        self._timer = QTimer(self)
        self._build()

    def _build(self) -> None:
        self.search_box.setPlaceholderText("Search products (Ctrl+O)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setAccessibleName("Search products")
        self.results.setAccessibleName("Products")
        self.results.setUniformItemSizes(True)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Product search status")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search_box)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        self.setTabOrder(self.search_box, self.results)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search_now)
        self.search_box.textChanged.connect(self._timer.start)
        self.search_box.returnPressed.connect(self._open_from_search_box)
        self.search_box.installEventFilter(self)
        self.results.itemActivated.connect(self._open_item)

    # -- public ------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def search_now(self) -> None:
        """Search for the box's text at once (the debounce timer calls this too)."""
        self._timer.stop()
        self._generation += 1
        generation = self._generation
        text = self.search_box.text().strip()
        self.status.setText("Searching…")

        def fetch() -> tuple[int, list[Product], bool]:
            try:
                return generation, self._client.list_products(text or None), False
            except NetworkError:
                if self._offline_source is None:
                    raise
                return generation, matching(self._offline_source(), text), True

        self._runner.start(fetch, self._show_results, self._show_error, name="product search")

    def is_searching(self) -> bool:
        return self._runner.pending() > 0

    # -- results -----------------------------------------------------------------------

    def _show_results(self, result: tuple[int, list[Product], bool]) -> None:
        generation, products, offline = result
        if generation != self._generation:
            return  # a newer search is running; its results replace these
        self.results.clear()
        for product in products:
            count = len(product.images)
            noun = "image" if count == 1 else "images"
            item = QListWidgetItem(f"{product.name}  ({count} {noun})")
            item.setData(PRODUCT_ID_ROLE, product.id)
            item.setToolTip(f"{product.name}\nId: {product.id}")
            self.results.addItem(item)
        if offline:
            self.status.setText(
                f"Offline: {len(products)} products opened before. "
                "Edit the search to try the server again."
            )
            if products:
                self.results.setCurrentRow(0)
        elif products:
            self.results.setCurrentRow(0)
            self.status.setText(f"{len(products)} products")
        else:
            self.status.setText("No product matches this search.")
        self.search_finished.emit(len(products))

    def _show_error(self, error: BaseException) -> None:
        message = getattr(error, "message", None) or str(error)
        logger.warning("Product search failed: %s", message)
        self.status.setText(f"Could not search products: {message}. Edit the search to try again.")
        self.search_finished.emit(0)

    def _open_from_search_box(self) -> None:
        item = self.results.currentItem() or self.results.item(0)
        if item is not None:
            self._open_item(item)

    def _open_item(self, item: QListWidgetItem) -> None:
        product_id = item.data(PRODUCT_ID_ROLE)
        if product_id:
            self.product_chosen.emit(str(product_id))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the search box walk the results, so the keyboard never has to leave it.
        if watched is self.search_box and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.results.count():
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)


def matching(products: list[Product], text: str) -> list[Product]:
    """Products whose name, identifier or description contains `text`, ignoring case."""
    needle = text.strip().casefold()
    if not needle:
        return products
    return [
        product
        for product in products
        if any(
            needle in (value or "").casefold()
            for value in (product.name, product.identifier, product.description)
        )
    ]
