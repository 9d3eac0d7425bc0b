"""Helpers of the window integration tests: server state, request log and saving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytestqt.qtbot import QtBot

from gallery_editor.api.parsing import parse_product
from gallery_editor.domain.models import Product, TargetImage
from gallery_editor.sandbox import SandboxServer
from gallery_editor.save import SaveReport
from gallery_editor.ui.main_window import MainWindow

WindowFactory = Callable[..., MainWindow]

LOAD_TIMEOUT_MS = 20_000
SAVE_TIMEOUT_MS = 30_000


def server_product(sandbox: SandboxServer, product_id: str) -> Product:
    return parse_product(sandbox.catalog.get_product(product_id))


def server_target(sandbox: SandboxServer, product_id: str) -> list[TargetImage]:
    """The server's gallery in display order, in the form `Gallery.target()` returns."""
    product = server_product(sandbox, product_id)
    return [
        TargetImage(image.id, image.name, image.thumbnail, image.enabled)
        for image in product.images_in_order()
    ]


def patch_log(sandbox: SandboxServer, product_id: str) -> list[dict[str, Any]]:
    """The PATCH requests the sandbox received for one product's images, in arrival order."""
    return [
        entry
        for entry in list(sandbox.request_log)
        if entry["method"] == "PATCH" and f"/products/{product_id}/image/" in str(entry["path"])
    ]


def image_id_of(entry: dict[str, Any]) -> str:
    return str(entry["path"]).rstrip("/").rsplit("/", 1)[-1]


def save_and_wait(qtbot: QtBot, window: MainWindow) -> SaveReport:
    """Start a save of the current product and return its report."""
    with qtbot.waitSignal(window.save_flow().save_ended, timeout=SAVE_TIMEOUT_MS) as ended:
        assert window.save() == "started"
    report = ended.args[0]
    assert isinstance(report, SaveReport)
    return report
