"""Fixtures for the gallery window tests: an in-process sandbox, a real client and a window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui.context import AppContext
from gallery_editor.ui.main_window import MainWindow

LOAD_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5)) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KelviqClient]:
    # No retries, so a fault injected for one request reaches the window as the load error.
    with KelviqClient(
        sandbox.api_url, sandbox.api_key, media_url=sandbox.media_url, retry=RetryPolicy(attempts=1)
    ) as api_client:
        yield api_client


@pytest.fixture
def context(client: KelviqClient, tmp_path: Path, sandbox: SandboxServer) -> AppContext:
    return AppContext(
        client=client,
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        settings_path=tmp_path / "settings.ini",
        sandbox=sandbox,
    )


@pytest.fixture
def window(qtbot: QtBot, context: AppContext) -> Iterator[MainWindow]:
    main_window = MainWindow(context)
    qtbot.addWidget(main_window)
    main_window.resize(1000, 700)
    main_window.show()
    qtbot.waitExposed(main_window)
    yield main_window
    main_window.shutdown()


@pytest.fixture
def open_product(qtbot: QtBot, window: MainWindow) -> Callable[[str], MainWindow]:
    """Open a product and wait until it is shown and its thumbnails have settled."""

    def opener(product_id: str) -> MainWindow:
        with qtbot.waitSignal(window.product_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
            window.open_product(product_id)
        assert loaded.args == [product_id]
        qtbot.waitUntil(lambda: window.thumbnail_counts()[2] == 0, timeout=LOAD_TIMEOUT_MS)
        return window

    return opener

