"""The gallery model on its own: Qt's model tester, roles, MIME payloads and drop rows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QImage, QUndoStack
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from gallery_editor.domain.gallery import Gallery
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.gallery_model import (
    MIME_TYPE,
    GalleryModel,
    Role,
    ThumbnailState,
    decode_image_ids,
    encode_image_ids,
)

pytestmark = pytest.mark.timeout(30)


def make_product(count: int, product_id: str = "p1") -> Product:
    images = tuple(
        ProductImage(f"i{n}", f"Image {n}", f"media/{n}.png", n * 10, n == 1, n != 3)
        for n in range(1, count + 1)
    )
    return Product(product_id, "Test product", images)


def wired_model(count: int = 5) -> tuple[GalleryModel, Gallery, QUndoStack]:
    """A model over a gallery whose move and rename requests go through an undo stack."""
    gallery = Gallery(make_product(count))
    model = GalleryModel()
    model.set_gallery(gallery, lambda image: f"http://127.0.0.1:1/{image.image}")
    stack = QUndoStack()

    def push(edit: object) -> None:
        if edit is not None:
            stack.push(EditCommand(gallery, edit))  # type: ignore[arg-type]

    model.move_requested.connect(lambda ids, row: push(gallery.make_move(ids, row)))
    model.rename_requested.connect(lambda image_id, name: push(gallery.make_rename(image_id, name)))
    return model, gallery, stack


def test_model_tester_through_edits(qtbot: QtBot) -> None:
    model, gallery, stack = wired_model(6)
    # Warnings from the tester fail the test (Qt warnings are errors in this suite).
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    stack.push(EditCommand(gallery, gallery.make_move(["i2", "i4"], 6)))
    stack.push(EditCommand(gallery, gallery.make_toggle_thumbnail("i5")))
    stack.push(EditCommand(gallery, gallery.make_set_enabled(["i1", "i2"], False)))
    stack.push(EditCommand(gallery, gallery.make_shift(["i6"], -1)))
    while stack.canUndo():
        stack.undo()
    model.on_thumbnail_ready("http://127.0.0.1:1/media/1.png", QImage(4, 4, QImage.Format.Format_RGBA8888))
    model.on_thumbnail_failed("http://127.0.0.1:1/media/2.png", "not an image")
    model.set_gallery(Gallery(make_product(3, "p2")))
    model.set_gallery(None)
    assert model.rowCount() == 0
    del tester


def test_multi_drop_keeps_relative_order() -> None:
    model, gallery, _stack = wired_model(5)
    mime = model.mimeData([model.index(3, 0), model.index(1, 0)])  # selection order differs
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, 5, 0, QModelIndex()) is False
    assert gallery.order == ("i1", "i3", "i5", "i2", "i4")
    assert [model.index(row, 0).data(Role.ImageId) for row in range(5)] == list(gallery.order)


def test_drop_onto_item_inserts_before_it() -> None:
    model, gallery, _stack = wired_model(5)
    mime = model.mimeData([model.index(4, 0)])
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, 0, model.index(1, 0))
    assert gallery.order == ("i1", "i5", "i2", "i3", "i4")


def test_drop_with_no_row_appends() -> None:
    model, gallery, _stack = wired_model(5)
    mime = model.mimeData([model.index(0, 0)])
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, 0, QModelIndex())
    assert gallery.order == ("i2", "i3", "i4", "i5", "i1")


def test_move_keeps_selection_on_moved_items() -> None:
    model, gallery, stack = wired_model(5)
    selection = QItemSelectionModel(model)
    selection.select(model.index(1, 0), QItemSelectionModel.SelectionFlag.Select)
    selection.select(model.index(3, 0), QItemSelectionModel.SelectionFlag.Select)
    stack.push(EditCommand(gallery, gallery.make_move(["i2", "i4"], 5)))
    assert model.ids_of(selection.selectedIndexes()) == ["i2", "i4"]
    assert sorted(index.row() for index in selection.selectedIndexes()) == [3, 4]
    stack.undo()
    assert sorted(index.row() for index in selection.selectedIndexes()) == [1, 3]


def test_mime_payload_round_trip() -> None:
    model, _gallery, _stack = wired_model(5)
    mime = model.mimeData([model.index(2, 0), model.index(0, 0), model.index(2, 0)])
    assert mime.formats() == [MIME_TYPE]
    assert decode_image_ids(mime) == ("p1", ["i1", "i3"])
    assert model.mimeTypes() == [MIME_TYPE]


def test_foreign_and_malformed_payloads_rejected() -> None:
    model, gallery, _stack = wired_model(5)
    foreign = encode_image_ids("other", ["i1"])
    assert not model.canDropMimeData(foreign, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert model.dropMimeData(foreign, Qt.DropAction.MoveAction, 0, 0, QModelIndex()) is False
    unknown = encode_image_ids("p1", ["nope"])
    assert not model.canDropMimeData(unknown, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    broken = encode_image_ids("p1", ["i1"])
    broken.setData(MIME_TYPE, b"{not json")
    assert decode_image_ids(broken) is None
    assert gallery.order == ("i1", "i2", "i3", "i4", "i5")


def test_roles_and_rename_request() -> None:
    model, gallery, stack = wired_model(5)
    first = model.index(0, 0)
    assert first.data(Qt.ItemDataRole.DisplayRole) == "Image 1"
    assert first.data(Role.IsThumbnail) is True
    assert model.index(2, 0).data(Role.IsEnabled) is False
    assert first.data(Role.ThumbnailState) == ThumbnailState.Pending
    assert model.thumbnail_counts() == (0, 0, 5)
    model.on_thumbnail_ready("http://127.0.0.1:1/media/1.png", QImage(4, 4, QImage.Format.Format_RGBA8888))
    model.on_thumbnail_failed("http://127.0.0.1:1/media/2.png", "HTTP 404")
    assert model.thumbnail_counts() == (1, 1, 3)
    assert model.index(1, 0).data(Role.FailureReason) == "HTTP 404"
    assert "HTTP 404" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.setData(first, "Front view", Qt.ItemDataRole.EditRole) is False
    assert gallery.fields("i1").name == "Front view"
    assert stack.count() == 1
    assert first.data(Role.IsChanged) is True
    assert first.data(Qt.ItemDataRole.AccessibleTextRole) == "Image 1 of 5: Front view, thumbnail, shown, changed"
    flags = model.flags(first)
    assert flags & Qt.ItemFlag.ItemIsDragEnabled
    assert not flags & Qt.ItemFlag.ItemIsDropEnabled
    assert model.flags(QModelIndex()) & Qt.ItemFlag.ItemIsDropEnabled
