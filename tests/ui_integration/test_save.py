"""Saving from the window: minimal requests, progress, cancel, failures and Save as I go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from gallery_editor.domain.planner import plan_patches
from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui.main_window import MainWindow
from gallery_editor.ui.save_flow import NOT_SAVED_PREFIX

from integration_support import (
    WindowFactory,
    SAVE_TIMEOUT_MS,
    image_id_of,
    patch_log,
    save_and_wait,
    server_target,
)

pytestmark = pytest.mark.timeout(90)

Opener = Callable[[MainWindow, str], MainWindow]


def edit_ten(window: MainWindow) -> list[str]:
    """Rename the first image, hide the second and move the third to the end."""
    order = list(window.current_gallery().order)
    assert window.rename_image(order[0], "Front view") is None
    assert window.set_enabled([order[1]], False)
    assert window.move_images([order[2]], len(order))
    return order


def test_save_sends_minimal_patches(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    edit_ten(window)
    gallery = window.current_gallery()
    planned = plan_patches(gallery.snapshot, gallery.target())
    target = gallery.target()
    formats: list[str] = []
    bar = window.save_flow().progress_bar
    window.save_flow().controller.progress.connect(lambda *_: formats.append(bar.format()))

    report = save_and_wait(qtbot, window)

    assert report.status == "saved"
    sent = patch_log(sandbox, product_id)
    assert len(sent) == len(planned)
    assert {image_id_of(entry): entry["body"] for entry in sent} == {
        patch.image_id: patch.body for patch in planned
    }
    assert server_target(sandbox, product_id) == target
    assert formats[-1] == f"Saving {len(planned)} of {len(planned)}"
    assert not bar.isVisible()
    assert not window.current_gallery().is_modified()
    assert window.current_stack().isClean()
    assert window.current_stack().count() == 3
    assert window.changes_text() == ""
    assert report.summary in window.last_status_text


def test_undo_after_save_is_a_new_change(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = edit_ten(window)
    save_and_wait(qtbot, window)
    window.undo()  # the move to the end
    gallery = window.current_gallery()
    assert gallery.is_modified()
    assert list(gallery.order) == order
    assert save_and_wait(qtbot, window).status == "saved"
    assert [image.id for image in server_target(sandbox, product_id)] == order


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(seed=7, latency_ms=150)])
def test_cancel_leaves_unsent_changes_pending(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    window = make_window(sandbox, concurrency=1)
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = list(window.current_gallery().order)
    for index, image_id in enumerate(order):
        assert window.rename_image(image_id, f"Renamed {index}") is None
    flow = window.save_flow()
    with qtbot.waitSignal(flow.controller.progress, timeout=SAVE_TIMEOUT_MS):
        assert window.save() == "started"
    assert flow.cancel_button.isVisible()
    with qtbot.waitSignal(flow.save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        flow.cancel_button.click()
    report = ended.args[0]

    assert report.status == "cancelled"
    saved = {image.id for image in server_target(sandbox, product_id) if image.name.startswith("Renamed")}
    assert 1 <= len(saved) < len(order)
    gallery = window.current_gallery()
    assert gallery.changed_image_ids() == frozenset(order) - saved
    assert all(gallery.fields(image_id).name == f"Renamed {i}" for i, image_id in enumerate(order))
    assert save_and_wait(qtbot, window).status == "saved"
    assert not window.current_gallery().is_modified()


def test_rejected_change_keeps_message(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = list(window.current_gallery().order)
    assert window.rename_image(order[0], "Kept") is None
    assert window.rename_image(order[1], "Rejected") is None
    sandbox.faults.add("status:400", path=f"/image/{order[1]}", method="PATCH", times=None)

    report = save_and_wait(qtbot, window)

    assert report.status == "partial"
    assert set(report.failed) == {order[1]}
    gallery = window.current_gallery()
    assert gallery.changed_image_ids() == frozenset({order[1]})
    assert gallery.fields(order[1]).name == "Rejected"
    assert server_target(sandbox, product_id)[0].name == "Kept"
    dock = window.review_dock()
    qtbot.waitUntil(lambda: _note_under(dock.change_tree(), order[1]) is not None, timeout=5000)
    note = _note_under(dock.change_tree(), order[1])
    assert note.startswith(NOT_SAVED_PREFIX)
    assert window.save_flow().message_box is not None
    assert not window.save_flow().message_box.isModal()
    window.save_flow().message_box.close()


def _note_under(tree: object, image_id: str) -> str | None:
    for row in range(tree.topLevelItemCount()):  # type: ignore[attr-defined]
        item = tree.topLevelItem(row)  # type: ignore[attr-defined]
        if item.data(0, 0x0100 + 2) != image_id:
            continue
        for child in range(item.childCount()):
            text = item.child(child).text(0)
            if text.startswith(NOT_SAVED_PREFIX):
                return text
    return None


def test_refused_key_stops_with_hint(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    edit_ten(window)
    sandbox.faults.add("status:401", path=f"/products/{product_id}", method="GET", times=1)

    report = save_and_wait(qtbot, window)

    assert report.status == "auth_failed"
    assert "refused the API key" in window.last_status_text
    assert "production keys" in window.last_status_text
    assert window.save_flow().waiting == []
    assert patch_log(sandbox, product_id) == []
    assert window.current_gallery().is_modified()
    window.save_flow().message_box.close()


def test_save_as_you_go_saves_each_edit(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener, tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    flow = window.save_flow()
    assert not flow.as_you_go_action.isChecked()
    flow.as_you_go_action.setChecked(True)
    order = list(window.current_gallery().order)

    with qtbot.waitSignal(flow.save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        assert window.rename_image(order[3], "Saved as I go") is None
    assert ended.args[0].status == "saved"
    assert server_target(sandbox, product_id)[3].name == "Saved as I go"
    qtbot.waitUntil(lambda: not window.current_gallery().is_modified(), timeout=5000)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value("save/as_you_go", type=bool) is True


def test_concurrency_is_remembered(
    make_window: WindowFactory, sandbox: SandboxServer, tmp_path: Path
) -> None:
    first = make_window(sandbox, concurrency=2)
    assert first.save_flow().concurrency == 2
    first.shutdown()
    second = make_window(sandbox)
    assert second.save_flow().concurrency == 2


def test_default_concurrency_is_four(make_window: WindowFactory, sandbox: SandboxServer) -> None:
    assert make_window(sandbox).save_flow().concurrency == 4
