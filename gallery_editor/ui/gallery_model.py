"""The list model that shows one `Gallery` in working order, with thumbnail states."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage

from gallery_editor.domain.gallery import (
    FieldsChanged,
    Gallery,
    GalleryEvent,
    OrderChanged,
    SnapshotReplaced,
)
from gallery_editor.domain.models import ProductImage

if TYPE_CHECKING:
    from gallery_editor.thumbnails.loader import ThumbnailLoader

logger = logging.getLogger(__name__)

MIME_TYPE = "application/x-gallery-editor-image-ids"

AnyIndex = QModelIndex | QPersistentModelIndex
UrlResolver = Callable[[ProductImage], str]


class Role(IntEnum):
    """Item data roles of `GalleryModel` beyond Qt's standard ones."""

    ImageId = Qt.ItemDataRole.UserRole + 1
    Name = Qt.ItemDataRole.UserRole + 2
    IsThumbnail = Qt.ItemDataRole.UserRole + 3
    IsEnabled = Qt.ItemDataRole.UserRole + 4
    Thumbnail = Qt.ItemDataRole.UserRole + 5
    ThumbnailState = Qt.ItemDataRole.UserRole + 6
    FailureReason = Qt.ItemDataRole.UserRole + 7
    IsChanged = Qt.ItemDataRole.UserRole + 8
    Position = Qt.ItemDataRole.UserRole + 9
    ImageUrl = Qt.ItemDataRole.UserRole + 10


class ThumbnailState(IntEnum):
    """Thumbnail state of an item: still loading, shown, or replaced by a broken-image placeholder."""

    Pending = 0
    Loaded = 1
    Failed = 2


def encode_image_ids(product_id: str, image_ids: Sequence[str]) -> QMimeData:
    """Build the drag payload: JSON with the product id and the image ids in working order."""
    mime = QMimeData()
    payload = {"product_id": product_id, "image_ids": list(image_ids)}
    mime.setData(MIME_TYPE, json.dumps(payload).encode("utf-8"))
    return mime


def decode_image_ids(mime: QMimeData | None) -> tuple[str, list[str]] | None:
    """Read a payload made by `encode_image_ids`; None for foreign or malformed data."""
    if mime is None or not mime.hasFormat(MIME_TYPE):
        return None
    try:
        payload = json.loads(bytes(mime.data(MIME_TYPE).data()).decode("utf-8"))
        product_id = payload["product_id"]
        image_ids = payload["image_ids"]
    except (ValueError, KeyError, TypeError):
        logger.warning("Ignored a drop whose %s payload is malformed", MIME_TYPE)
        return None
    if not isinstance(product_id, str) or not isinstance(image_ids, list):
        return None
    if not all(isinstance(image_id, str) for image_id in image_ids):
        return None
    return product_id, image_ids


class GalleryModel(QAbstractListModel):
    """One row per image of the current gallery, in working order.

    The model never changes the gallery itself. Drops and renames become the signals
    `move_requested` and `rename_requested`, and the window turns them into undo
    commands. The gallery's events then update the rows.
    """

    move_requested = Signal(list, int)  # image ids, destination row in the current order
    rename_requested = Signal(str, str)  # image id, the name as typed
    thumbnail_counts_changed = Signal()

    def __init__(
        self, loader: ThumbnailLoader | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._loader = loader
        self._gallery: Gallery | None = None
        self._resolve_url: UrlResolver | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._order: list[str] = []
        self._rows: dict[str, int] = {}
        self._changed: frozenset[str] = frozenset()
        self._urls: dict[str, str] = {}
        self._ids_by_url: dict[str, list[str]] = {}
        self._loaded: set[str] = set()
        self._failures: dict[str, str] = {}
        self._own_images: dict[str, QImage] = {}  # used only without a loader

    # -- the gallery -----------------------------------------------------------------

    def set_gallery(self, gallery: Gallery | None, resolve_url: UrlResolver | None = None) -> None:
        """Show `gallery` (None for nothing) and request its thumbnails, first rows first."""
        self.beginResetModel()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._gallery = gallery
        self._resolve_url = resolve_url
        self._reset_thumbnail_states()
        self._read_order()
        if gallery is not None:
            self._unsubscribe = gallery.subscribe(self._on_gallery_event)
            self._resolve_urls(gallery, resolve_url)
        self.endResetModel()
        self._request_thumbnails()
        self.thumbnail_counts_changed.emit()

    def gallery(self) -> Gallery | None:
        return self._gallery

    def product_id(self) -> str | None:
        return self._gallery.product_id if self._gallery is not None else None

    def image_id(self, row: int) -> str:
        return self._order[row]

    def row_of(self, image_id: str) -> int:
        return self._rows[image_id]

    def contains(self, image_id: str) -> bool:
        return image_id in self._rows

    def index_of(self, image_id: str) -> QModelIndex:
        return self.index(self._rows[image_id], 0)

    def ids_of(self, indexes: Iterable[AnyIndex]) -> list[str]:
        """Return the image ids of `indexes` in working order, without duplicates."""
        rows = sorted({index.row() for index in indexes if index.isValid()})
        return [self._order[row] for row in rows]

    def url_of(self, image_id: str) -> str | None:
        return self._urls.get(image_id)

    def urls_for_rows(self, rows: Iterable[int]) -> list[str]:
        return [
            self._urls[self._order[row]]
            for row in rows
            if 0 <= row < len(self._order) and self._order[row] in self._urls
        ]

    # -- thumbnails ------------------------------------------------------------------

    def thumbnail_counts(self) -> tuple[int, int, int]:
        """Return (loaded, broken, pending) over the current gallery's images."""
        loaded = broken = pending = 0
        for image_id in self._order:
            state = self._thumbnail_state(image_id)
            if state is ThumbnailState.Loaded:
                loaded += 1
            elif state is ThumbnailState.Failed:
                broken += 1
            else:
                pending += 1
        return loaded, broken, pending

    def thumbnail_for(self, image_id: str) -> QImage | None:
        """Return the loaded thumbnail of an image, or None while it is not there."""
        url = self._urls.get(image_id)
        if url is None or url not in self._loaded:
            return None
        if self._loader is None:
            return self._own_images.get(url)
        image = self._loader.cached(url)
        if image is None:
            # The loader's memory cache evicted it, so request it again from its fast disk cache.
            self._loader.request(url, priority=len(self._order))
        return image

    def on_thumbnail_ready(self, url: str, image: QImage) -> None:
        self._failures.pop(url, None)
        self._loaded.add(url)
        if self._loader is None:
            self._own_images[url] = image
        self._emit_for_url(url)

    def on_thumbnail_failed(self, url: str, reason: str) -> None:
        if url in self._loaded:
            return  # a failed revalidation keeps the thumbnail already shown
        self._failures[url] = reason
        self._emit_for_url(url)

    # -- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._order)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._gallery is None or index.row() >= len(self._order):
            return None
        image_id = self._order[index.row()]
        image = self._gallery.image(image_id)
        return self._data_for_role(index.row(), image, role)

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        # The rename goes through an undo command, so the model reports it and changes nothing.
        if index.isValid() and role in (Qt.ItemDataRole.EditRole, Role.Name):
            self.rename_requested.emit(self._order[index.row()], str(value))
        return False

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            # Only the gaps between items accept drops, so nothing becomes a child of an item.
            return Qt.ItemFlag.ItemIsDropEnabled
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemIsDragEnabled
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def roleNames(self) -> dict[int, bytes]:
        names = super().roleNames()
        names.update({int(role): role.name.encode("ascii") for role in Role})
        return names

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData | None:
        if self._gallery is None:
            return None
        return encode_image_ids(self._gallery.product_id, self.ids_of(indexes))

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: AnyIndex
    ) -> bool:
        return self.decode_own_drop(data) is not None

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: AnyIndex
    ) -> bool:
        """Report the drop as `move_requested` and return False so no view removes rows."""
        image_ids = self.decode_own_drop(data)
        if image_ids is None or action == Qt.DropAction.IgnoreAction:
            return False
        if parent.isValid():
            row = parent.row()  # a drop onto an item inserts before it, never inside it
        if not 0 <= row <= len(self._order):
            row = len(self._order)
        self.move_requested.emit(image_ids, row)
        return False

    def decode_own_drop(self, data: QMimeData | None) -> list[str] | None:
        """Return the dragged image ids when they belong to the current product, else None."""
        decoded = decode_image_ids(data)
        if decoded is None or self._gallery is None:
            return None
        product_id, image_ids = decoded
        if product_id != self._gallery.product_id:
            logger.info(
                "Rejected a drop of images from product %s onto product %s",
                product_id,
                self._gallery.product_id,
            )
            return None
        if not image_ids or any(image_id not in self._rows for image_id in image_ids):
            return None
        return image_ids

    # -- internals -------------------------------------------------------------------

    def _data_for_role(self, row: int, image: ProductImage, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Role.Name):
            return image.display_name
        if role == Qt.ItemDataRole.EditRole:
            return image.name or ""
        if role == Role.ImageId:
            return image.id
        if role == Role.IsThumbnail:
            return image.thumbnail
        if role == Role.IsEnabled:
            return image.enabled
        if role == Role.IsChanged:
            return image.id in self._changed
        if role == Role.Position:
            return row + 1
        if role == Role.ImageUrl:
            return self._urls.get(image.id)
        if role == Role.Thumbnail:
            return self.thumbnail_for(image.id)
        if role == Role.ThumbnailState:
            return self._thumbnail_state(image.id)
        if role == Role.FailureReason:
            return self._failure_reason(image.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, image)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.accessible_text(row, image)
        return None

    def accessible_text(self, row: int, image: ProductImage) -> str:
        """Return e.g. "Image 3 of 10: Front view, thumbnail, hidden, changed"."""
        parts = [f"Image {row + 1} of {len(self._order)}: {image.display_name}"]
        if image.thumbnail:
            parts.append("thumbnail")
        parts.append("shown" if image.enabled else "hidden")
        if image.id in self._changed:
            parts.append("changed")
        if self._thumbnail_state(image.id) is ThumbnailState.Failed:
            parts.append("image failed to load")
        return ", ".join(parts)

    def _tooltip(self, row: int, image: ProductImage) -> str:
        lines = [self.accessible_text(row, image)]
        reason = self._failure_reason(image.id)
        if reason:
            lines.append(f"The image could not be shown: {reason}")
        return "\n".join(lines)

    def _thumbnail_state(self, image_id: str) -> ThumbnailState:
        url = self._urls.get(image_id)
        if url is None or url in self._failures:
            return ThumbnailState.Failed
        if url in self._loaded:
            return ThumbnailState.Loaded
        return ThumbnailState.Pending

    def _failure_reason(self, image_id: str) -> str | None:
        url = self._urls.get(image_id)
        if url is None:
            return "the image has no valid address"
        return self._failures.get(url)

    def _reset_thumbnail_states(self) -> None:
        self._urls.clear()
        self._ids_by_url.clear()
        self._loaded.clear()
        self._failures.clear()
        self._own_images.clear()

    def _resolve_urls(self, gallery: Gallery, resolve_url: UrlResolver | None) -> None:
        for image_id in gallery.order:
            image = gallery.server_image(image_id)
            try:
                url = resolve_url(image) if resolve_url else image.image
            except ValueError as error:
                logger.warning("Image %s has an unusable address %r: %s", image_id, image.image, error)
                continue
            self._urls[image_id] = url
            self._ids_by_url.setdefault(url, []).append(image_id)

    def _request_thumbnails(self) -> None:
        count = len(self._order)
        for row, image_id in enumerate(self._order):
            url = self._urls.get(image_id)
            if url is None or url in self._loaded:
                continue
            if self._loader is None:
                continue
            if self._loader.cached(url) is not None:
                self._loaded.add(url)
            else:
                self._loader.request(url, priority=count - row)

    def _read_order(self) -> None:
        gallery = self._gallery
        self._order = list(gallery.order) if gallery is not None else []
        self._rows = {image_id: row for row, image_id in enumerate(self._order)}
        self._changed = gallery.changed_image_ids() if gallery is not None else frozenset()

    def _on_gallery_event(self, event: GalleryEvent) -> None:
        if isinstance(event, OrderChanged):
            self._apply_order_change()
        elif isinstance(event, FieldsChanged):
            self._apply_field_change(event.image_ids)
        elif isinstance(event, SnapshotReplaced):
            self.set_gallery(self._gallery, self._resolve_url)

    def _apply_order_change(self) -> None:
        """Rearrange rows as a layout change so persistent indexes (selection) follow them."""
        self.layoutAboutToBeChanged.emit()
        old_persistent = self.persistentIndexList()
        old_ids = [self._order[index.row()] for index in old_persistent]
        self._read_order()
        new_persistent = [self.index(self._rows[image_id], 0) for image_id in old_ids]
        self.changePersistentIndexList(old_persistent, new_persistent)
        self.layoutChanged.emit()
        if self._order:
            # Positions, accessible texts and changed dots of many items differ now.
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._order) - 1, 0))

    def _apply_field_change(self, image_ids: frozenset[str]) -> None:
        old_changed = self._changed
        self._changed = self._gallery.changed_image_ids() if self._gallery else frozenset()
        touched = set(image_ids) | (old_changed ^ self._changed)
        rows = [self._rows[image_id] for image_id in touched if image_id in self._rows]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), 0))

    def _emit_for_url(self, url: str) -> None:
        rows = [self._rows[image_id] for image_id in self._ids_by_url.get(url, ())]
        for row in rows:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index)
        if rows:
            self.thumbnail_counts_changed.emit()
