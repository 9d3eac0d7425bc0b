"""Opening products, load errors, status texts, per-product undo stacks and saved settings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_support import ids_at

from gallery_editor.api import KelviqClient
from gallery_editor.sandbox import SandboxServer
from gallery_editor.ui.context import AppContext
from gallery_editor.ui.gallery_model import Role, ThumbnailState
from gallery_editor.ui.main_window import EMPTY_PRODUCT_TEXT, MainWindow

pytestmark = pytest.mark.timeout(90)


def media_request_count(sandbox: SandboxServer) -> int:
    return sum(1 for entry in list(sandbox.request_log) if entry.get("port") == "media")


def test_ten_images_in_server_order(
    open_product: Callable[[str], MainWindow], sandbox: SandboxServer, client: KelviqClient
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    window = open_product(product_id)
    expected = [image.id for image in client.get_product(product_id).images_in_order()]
    model = window.gallery_model()
    assert model.rowCount() == 10
    assert [model.index(row, 0).data(Role.ImageId) for row in range(10)] == expected
    assert window.thumbnail_counts() == (10, 0, 0)
    for row in range(10):
        index = model.index(row, 0)
        assert index.data(Role.ThumbnailState) == ThumbnailState.Loaded
        thumbnail = index.data(Role.Thumbnail)
        assert isinstance(thumbnail, QImage)
        assert not thumbnail.isNull()
    assert window.windowTitle().startswith(client.get_product(product_id).name)
    assert window.windowTitle().endswith("[*] — Gallery Editor")
    assert not window.isWindowModified()
    assert window.changes_text() == ""
    assert window.message_text() == ""


def test_thumbnails_settled_signal(qtbot: QtBot, window: MainWindow, sandbox: SandboxServer) -> None:
    with qtbot.waitSignal(window.thumbnails_settled, timeout=20_000):
        window.open_product(sandbox.catalog.well_known["ten"])
    loaded, broken, pending = window.thumbnail_counts()
    assert pending == 0
    assert loaded + broken == 10


def test_status_shows_thumbnail_progress(qtbot: QtBot, window: MainWindow, sandbox: SandboxServer) -> None:
    texts: list[str] = []
    with qtbot.waitSignal(window.product_loaded, timeout=20_000):
        window.open_product(sandbox.catalog.well_known["sixty"])
        texts.append(window.activity_text())
    assert texts == ["Loading product…"]
    loaded, broken, pending = window.thumbnail_counts()
    if pending:
        assert window.activity_text() == f"Loading thumbnails: {loaded + broken} of 60"
    qtbot.waitUntil(lambda: window.thumbnail_counts()[2] == 0, timeout=30_000)
    assert "Loading" not in window.activity_text()


def test_empty_product_shows_empty_state(open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> None:
    window = open_product(sandbox.catalog.well_known["empty"])
    assert window.gallery_model().rowCount() == 0
    assert window.message_text() == EMPTY_PRODUCT_TEXT
    assert "This product has no images" in window.message_text()
    assert not window.retry_button().isVisible()
    assert window.thumbnail_counts() == (0, 0, 0)


def test_server_error_shows_message_and_retry(qtbot: QtBot, window: MainWindow, sandbox: SandboxServer) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    sandbox.faults.add("status:500", path=product_id, times=1)
    with qtbot.waitSignal(window.product_load_failed, timeout=20_000) as failed:
        window.open_product(product_id)
    message = failed.args[0]
    assert product_id in message
    assert "Could not load product" in message
    assert "Could not load product" in window.message_text()
    assert window.retry_button().isVisible()
    assert window.current_gallery() is None
    assert window.last_load_error is not None
    with qtbot.waitSignal(window.product_loaded, timeout=20_000):
        qtbot.mouseClick(window.retry_button(), Qt.MouseButton.LeftButton)
    assert window.message_text() == ""
    assert window.gallery_model().rowCount() == 10


def test_unsaved_marker_and_counter_follow_undo(
    open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    gallery = window.current_gallery()
    assert gallery is not None
    server = gallery.order
    enabled_ids = [image_id for image_id in server[5:] if gallery.fields(image_id).enabled][:2]
    assert len(enabled_ids) == 2
    steps = [
        (lambda: window.move_images(ids_at(server, [1]), 10), "1 image changed"),
        (lambda: window.rename_image(server[4], "Front view"), "2 images changed"),
        (lambda: window.set_enabled(enabled_ids, False), "4 images changed"),
    ]
    for action, expected in steps:
        action()
        assert window.isWindowModified()
        assert window.changes_text() == expected
    for expected in ("2 images changed", "1 image changed", ""):
        window.undo()
        assert window.changes_text() == expected
    assert not window.isWindowModified()
    assert gallery.order == server
    assert not gallery.is_modified()


def test_neighbours_that_shift_are_not_counted(
    open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    gallery = window.current_gallery()
    assert gallery is not None
    window.move_images(ids_at(gallery.order, [2, 4]), 10)
    assert window.changes_text() == "2 images changed"


def test_undo_stacks_kept_per_product(
    qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    ten_id = sandbox.catalog.well_known["ten"]
    sixty_id = sandbox.catalog.well_known["sixty"]
    window = open_product(ten_id)
    ten_gallery = window.current_gallery()
    assert ten_gallery is not None
    window.move_images([ten_gallery.order[0]], 10)
    ten_order = ten_gallery.order
    window = open_product(sixty_id)
    sixty_gallery = window.current_gallery()
    assert sixty_gallery is not None
    assert not window.isWindowModified()
    window.toggle_thumbnail(sixty_gallery.order[3])
    window.toggle_thumbnail(sixty_gallery.order[5])
    assert window.undo_group().activeStack().count() == 2
    window = open_product(ten_id)
    assert window.current_gallery() is ten_gallery
    assert ten_gallery.order == ten_order
    assert window.isWindowModified()
    assert window.undo_group().activeStack().count() == 1
    assert window.action("undo").text() == f"&Undo {window.undo_group().activeStack().undoText()}"
    assert len(window.undo_group().stacks()) == 2
    window.undo()
    assert not ten_gallery.is_modified()
    assert sixty_gallery.is_modified()


def test_gallery_edited_signal_on_push_undo_redo(
    qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    window = open_product(product_id)
    gallery = window.current_gallery()
    assert gallery is not None
    for operation in (
        lambda: window.move_images([gallery.order[0]], 5),
        window.undo,
        window.redo,
    ):
        with qtbot.waitSignal(window.gallery_edited, timeout=1000) as edited:
            operation()
        assert edited.args == [product_id]


def test_picker_search_and_open(qtbot: QtBot, window: MainWindow, client: KelviqClient, sandbox: SandboxServer) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    picker = window.product_picker()
    qtbot.waitUntil(lambda: not picker.is_searching(), timeout=20_000)
    window.activateWindow()
    window.action("open").trigger()
    assert picker.search_box.hasFocus() or QApplication.focusWidget() is picker.search_box
    with qtbot.waitSignal(picker.search_finished, timeout=20_000):
        qtbot.keyClicks(picker.search_box, product.name)
    assert picker.results.count() >= 1
    names = [picker.results.item(row).text() for row in range(picker.results.count())]
    assert all(product.name.lower() in name.lower() for name in names)
    row = next(
        row for row in range(picker.results.count())
        if picker.results.item(row).data(Qt.ItemDataRole.UserRole + 1) == product.id
    )
    picker.results.setCurrentRow(row)
    with qtbot.waitSignal(window.product_loaded, timeout=20_000) as loaded:
        qtbot.keyClick(picker.search_box, Qt.Key.Key_Return)
    assert loaded.args == [product.id]


def test_zoom_scales_without_new_downloads(
    qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    view = window.gallery_view()
    media_requests = media_request_count(sandbox)
    assert media_requests >= 10
    size_before = view.visualRect(window.gallery_model().index(0, 0)).size()
    start = window.zoom_slider().value()
    center = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(
        center, QPointF(view.viewport().mapToGlobal(center.toPoint())), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert window.zoom_slider().value() > start
    view.doItemsLayout()
    size_after = view.visualRect(window.gallery_model().index(0, 0)).size()
    assert size_after.width() > size_before.width()
    assert window.thumbnail_counts() == (10, 0, 0)
    assert media_request_count(sandbox) == media_requests


def test_settings_restore_geometry_and_zoom(qtbot: QtBot, context: AppContext) -> None:
    first = MainWindow(context)
    qtbot.addWidget(first)
    # The offscreen screen is 800x600, and restoring clamps a window to its screen.
    first.resize(700, 520)
    first.show()
    qtbot.waitExposed(first)
    first.zoom_slider().setValue(224)
    first.close()
    second = MainWindow(context)
    qtbot.addWidget(second)
    assert second.zoom_slider().value() == 224
    assert second.gallery_delegate().edge == 224
    assert second.size().width() == 700
    assert second.size().height() == 520
    second.shutdown()


def test_accessible_text_of_items(open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    gallery = window.current_gallery()
    assert gallery is not None
    third = gallery.order[2]
    window.rename_image(third, "Front view")
    window.toggle_thumbnail(third)
    window.set_enabled([third], False)
    text = window.gallery_model().index(2, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert text == "Image 3 of 10: Front view, thumbnail, hidden, changed"


def test_preview_shows_size_format_and_url(
    qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer
) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    view = window.gallery_view()
    index = window.gallery_model().index(0, 0)
    dialog = window.open_preview(index)
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "pixels" in dialog.details.text(), timeout=20_000)
    assert str(index.data(Role.ImageUrl)) in dialog.details.text()
    assert dialog.image_label.pixmap() is not None
    assert not dialog.image_label.pixmap().isNull()
    assert view.isVisible()
    dialog.close()
