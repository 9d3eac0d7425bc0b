"""Conflicts found while saving: the dialog, its choices and server updates in the review dock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from gallery_editor.sandbox import SandboxServer
from gallery_editor.ui.main_window import MainWindow

from integration_support import SAVE_TIMEOUT_MS, save_and_wait, server_target

pytestmark = pytest.mark.timeout(90)

Opener = Callable[[MainWindow, str], MainWindow]


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_conflict_dialog_resolves_and_saves(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener, choice: str
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = list(window.current_gallery().order)
    assert window.rename_image(order[0], "Mine") is None
    sandbox.catalog.set_image_fields(product_id, order[0], name="Theirs")
    sandbox.catalog.set_image_fields(product_id, order[4], enabled=False)

    report = save_and_wait(qtbot, window)
    assert report.status == "conflicts"
    dialog = window.save_flow().conflict_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert not dialog.ok_button().isEnabled()
    mine, theirs = dialog.choice_buttons(("field", order[0], "name"))
    (mine if choice == "mine" else theirs).click()
    assert dialog.ok_button().isEnabled()

    with qtbot.waitSignal(window.save_flow().save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        dialog.ok_button().click()
    assert ended.args[0].status == "saved"

    expected = "Mine" if choice == "mine" else "Theirs"
    server = server_target(sandbox, product_id)
    assert server[0].name == expected
    assert server[4].enabled is False
    gallery = window.current_gallery()
    assert gallery.fields(order[0]).name == expected
    assert gallery.fields(order[4]).enabled is False
    assert not gallery.is_modified()
    dock = window.review_dock()
    dock.refresh_now()
    lines = [
        dock.change_tree().topLevelItem(row).child(child).text(0)
        for row in range(dock.change_tree().topLevelItemCount())
        for child in range(dock.change_tree().topLevelItem(row).childCount())
    ]
    assert "Updated on the server: now hidden" in lines


def test_conflict_dialog_cancel_keeps_changes(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = list(window.current_gallery().order)
    window.move_images([order[0]], len(order))
    sandbox.catalog.set_image_fields(product_id, order[5], ordering=-1)

    report = save_and_wait(qtbot, window)
    assert report.status == "conflicts"
    dialog = window.save_flow().conflict_dialog
    dialog.reject()
    assert window.current_gallery().order[-1] == order[0]
    assert window.current_gallery().is_modified()
    assert "stay pending" in window.last_status_text
    assert server_target(sandbox, product_id)[0].id == order[5]


def test_server_update_taken_without_conflict(
    qtbot: QtBot, window: MainWindow, sandbox: SandboxServer, open_product: Opener
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    open_product(window, product_id)
    order = list(window.current_gallery().order)
    assert window.rename_image(order[1], "Mine") is None
    sandbox.catalog.set_image_fields(product_id, order[2], name="Renamed elsewhere")

    report = save_and_wait(qtbot, window)

    assert report.status == "saved"
    assert window.save_flow().conflict_dialog is None
    gallery = window.current_gallery()
    assert gallery.fields(order[2]).name == "Renamed elsewhere"
    assert not gallery.is_modified()
    assert [update.image_id for update in window.current_session().server_updates] == [order[2]]
