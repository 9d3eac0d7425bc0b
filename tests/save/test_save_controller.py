"""SaveController: saves in a worker thread, cancel, and coalesced Save as I go."""

from __future__ import annotations

import time
from dataclasses import replace

from pytestqt.qtbot import QtBot

from gallery_editor.api import KelviqClient
from gallery_editor.sandbox import SandboxServer
from gallery_editor.save import SaveEngine, SaveReport, SaveRequest
from gallery_editor.ui.save_controller import SaveController
from tests.save.conftest import patch_requests, target_of


def test_save_runs_off_gui_thread(qtbot: QtBot, sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = list(reversed(target_of(product)))
    controller = SaveController(SaveEngine(client), client.base_url)
    progress: list[tuple[int, int, str]] = []
    controller.progress.connect(lambda done, total, message: progress.append((done, total, message)))
    # The engine's first read takes two seconds; start() must return long before that.
    sandbox.faults.add("slow:2", method="GET")

    with qtbot.waitSignal(controller.finished, timeout=30000) as finished:
        began = time.monotonic()
        controller.start(SaveRequest(client.base_url, product.id, product, target))
        start_seconds = time.monotonic() - began
        assert controller.is_running()

    report = finished.args[0]
    assert start_seconds < 1.0
    assert report.status == "saved", report.summary
    assert not controller.is_running()
    qtbot.waitUntil(lambda: len(progress) == report.patches_sent, timeout=5000)
    assert progress[-1][2] == f"Saving {report.patches_sent} of {report.patches_sent}"


def test_cancel_keeps_rest_pending(qtbot: QtBot, sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = [replace(wanted, name=f"Name {i}") for i, wanted in enumerate(target_of(product))]
    controller = SaveController(SaveEngine(client, concurrency=1), client.base_url)
    controller.progress.connect(lambda done, _total, _message: controller.cancel() if done == 2 else None)

    with qtbot.waitSignal(controller.finished, timeout=30000) as finished:
        controller.start(SaveRequest(client.base_url, product.id, product, target))

    report = finished.args[0]
    assert report.status == "cancelled"
    assert 2 <= report.patches_sent < len(target)


def test_queued_edits_coalesce(qtbot: QtBot, sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    controller = SaveController(SaveEngine(client), client.base_url, quiet_period_ms=200)
    target = target_of(product)
    sandbox.request_log.clear()
    reports: list[SaveReport] = []
    controller.finished.connect(reports.append)

    for index in range(5):
        target = [replace(target[0], name=f"Typing {index}")] + target[1:]
        controller.queue_edit(product.id, product, target)

    qtbot.waitUntil(lambda: len(reports) == 1 and not controller.is_running(), timeout=30000)
    assert reports[0].status == "saved", reports[0].summary
    bodies = [entry["body"] for entry in patch_requests(sandbox)]
    assert bodies == [{"name": "Typing 4"}]
    assert controller.pending_edits() == 0
