"""Journal sessions in the window: closing with edits, recovery at start and offline copies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot
from PySide6.QtWidgets import QAbstractButton, QMessageBox

from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui.main_window import MainWindow

from integration_support import LOAD_TIMEOUT_MS, SAVE_TIMEOUT_MS, WindowFactory, server_target

pytestmark = pytest.mark.timeout(90)

Opener = Callable[[MainWindow, str], MainWindow]


def edit_and_persist(qtbot: QtBot, window: MainWindow) -> list[str]:
    """Move the first image to the end and rename the second, then wait for the journal."""
    order = list(window.current_gallery().order)
    assert window.move_images([order[0]], len(order))
    assert window.rename_image(order[1], "Journaled") is None
    flow = window.session_flow()
    qtbot.waitUntil(lambda: flow.is_persisted(window.current_product_id()), timeout=10_000)
    assert not flow.journal_label.isVisible()
    return order


def button(box: QMessageBox, text: str) -> QAbstractButton:
    for candidate in box.buttons():
        if candidate.text().replace("&", "") == text:
            return candidate
    raise AssertionError(f"no button {text!r} in {[b.text() for b in box.buttons()]}")


def pending_ids(window: MainWindow) -> list[str]:
    return [summary.product_id for summary in window.session_flow().keeper.pending()]


# -- closing the window ----------------------------------------------------------------------


def test_close_keep_for_later(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    window = open_product(make_window(sandbox), product_id)
    edit_and_persist(qtbot, window)
    window.close()
    box = window.session_flow().close_dialog
    assert box is not None
    assert window.isVisible()
    assert box.defaultButton() is button(box, "Keep for later")
    button(box, "Keep for later").click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert pending_ids(make_window(sandbox)) == [product_id]


def test_close_cancel_stays_open(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    window = open_product(make_window(sandbox), sandbox.catalog.well_known["ten"])
    edit_and_persist(qtbot, window)
    window.close()
    box = window.session_flow().close_dialog
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: window.session_flow().close_dialog is None, timeout=5000)
    assert window.isVisible()
    assert window.current_gallery().is_modified()


def test_close_discard_after_confirming(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    window = open_product(make_window(sandbox), product_id)
    order = edit_and_persist(qtbot, window)
    window.close()
    button(window.session_flow().close_dialog, "Discard…").click()
    confirmation = window.session_flow().discard_dialog
    assert confirmation is not None
    assert window.isVisible()
    button(confirmation, "Discard and close").click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert pending_ids(make_window(sandbox)) == []
    assert [image.id for image in server_target(sandbox, product_id)] == order


def test_close_save_now(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    window = open_product(make_window(sandbox), product_id)
    order = edit_and_persist(qtbot, window)
    target = window.current_gallery().target()
    window.close()
    button(window.session_flow().close_dialog, "Save now").click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=SAVE_TIMEOUT_MS)
    assert server_target(sandbox, product_id) == target
    assert server_target(sandbox, product_id)[-1].id == order[0]
    assert pending_ids(make_window(sandbox)) == []


def test_close_without_edits_asks_nothing(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    window = open_product(make_window(sandbox), sandbox.catalog.well_known["ten"])
    window.close()
    assert window.session_flow().close_dialog is None
    assert not window.isVisible()


# -- recovery at start ------------------------------------------------------------------------


def test_recovery_restores_undo_history(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    first = open_product(make_window(sandbox), product_id)
    edit_and_persist(qtbot, first)
    expected = first.current_gallery().state_to_json()
    first.shutdown()

    second = make_window(sandbox)
    second.after_show()
    dialog = second.session_flow().recovery_dialog
    assert dialog is not None
    assert dialog.product_ids() == [product_id]
    dialog.select_product(product_id)
    with qtbot.waitSignal(second.product_loaded, timeout=LOAD_TIMEOUT_MS):
        dialog.open_button().click()
    assert second.current_gallery().state_to_json() == expected
    stack = second.current_stack()
    assert (stack.count(), stack.index()) == (2, 2)
    second.undo()
    second.undo()
    assert not second.current_gallery().is_modified()


def test_screenshot_mode_shows_banner_only(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    first = open_product(make_window(sandbox), sandbox.catalog.well_known["ten"])
    edit_and_persist(qtbot, first)
    first.shutdown()
    second = make_window(sandbox, dialogs=False)
    second.after_show()
    flow = second.session_flow()
    assert flow.recovery_dialog is None
    assert flow.pending_banner.isVisible()
    assert "1 product has unsaved changes" in flow.pending_banner.text()


def test_restore_takes_server_updates(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    first = open_product(make_window(sandbox), product_id)
    order = edit_and_persist(qtbot, first)
    first.shutdown()
    sandbox.catalog.set_image_fields(product_id, order[4], name="Renamed elsewhere")

    second = open_product(make_window(sandbox), product_id)
    gallery = second.current_gallery()
    assert gallery.fields(order[4]).name == "Renamed elsewhere"
    assert gallery.fields(order[1]).name == "Journaled"
    assert gallery.order[-1] == order[0]
    assert gallery.changed_image_ids() == frozenset({order[0], order[1]})
    assert [update.image_id for update in second.current_session().server_updates] == [order[4]]
    assert second.current_stack().count() == 2


def test_restore_conflict_resolved_at_save(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    first = open_product(make_window(sandbox), product_id)
    order = edit_and_persist(qtbot, first)
    first.shutdown()
    sandbox.catalog.set_image_fields(product_id, order[1], name="Theirs")

    second = open_product(make_window(sandbox), product_id)
    assert second.current_gallery().fields(order[1]).name == "Journaled"
    assert "conflict" in second.last_status_text
    flow = second.save_flow()
    with qtbot.waitSignal(flow.save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        second.save()
    assert ended.args[0].status == "conflicts"
    flow.conflict_dialog.choose_all("mine")
    with qtbot.waitSignal(flow.save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        flow.conflict_dialog.ok_button().click()
    assert ended.args[0].status == "saved"
    assert server_target(sandbox, product_id)[0].name == "Journaled"


# -- offline ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(seed=7)])
def test_offline_copy_then_save_when_back(
    qtbot: QtBot,
    make_window: WindowFactory,
    sandbox: SandboxServer,
    sandbox_config: SandboxConfig,
    open_product: Opener,
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    first = open_product(make_window(sandbox), product_id)
    first.shutdown()
    api_port = int(sandbox.api_url.split(":")[2].split("/")[0])
    media_port = int(sandbox.media_url.split(":")[2].split("/")[0])
    sandbox.stop()

    window = open_product(make_window(sandbox), product_id)
    flow = window.session_flow()
    assert window.current_session().offline_since is not None
    assert flow.offline_banner.isVisible()
    assert flow.offline_banner.text().startswith("Offline — copy from")
    assert not window.action("save").isEnabled()
    order = list(window.current_gallery().order)
    assert window.rename_image(order[2], "Edited offline") is None
    assert window.save() == "waiting"

    config = SandboxConfig(seed=sandbox_config.seed, port=api_port, media_port=media_port,
                           api_key=sandbox.api_key)
    with SandboxServer(config) as restarted:
        with qtbot.waitSignal(window.save_flow().save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
            flow.offline_banner.retry_button.click()
        assert ended.args[0].status == "saved"
        assert not flow.offline_banner.isVisible()
        assert window.action("save").isEnabled()
        assert server_target(restarted, product_id)[2].name == "Edited offline"
        assert window.current_session().offline_since is None


def test_close_save_now_offline_stays_open(
    qtbot: QtBot, make_window: WindowFactory, sandbox: SandboxServer, open_product: Opener
) -> None:
    window = open_product(make_window(sandbox), sandbox.catalog.well_known["ten"])
    edit_and_persist(qtbot, window)
    # A request that failed with a network error puts the monitor offline.
    window.session_flow().monitor.report_failure("connection refused")
    assert not window.action("save").isEnabled()
    window.close()
    button(window.session_flow().close_dialog, "Save now").click()
    assert window.isVisible()
    assert "could not be saved" in window.last_status_text
    assert window.current_gallery().is_modified()
