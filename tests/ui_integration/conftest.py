"""Fixtures of the window integration tests: a sandbox per test, a real client and journal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui import session_flow
from gallery_editor.ui.context import AppContext
from gallery_editor.ui.main_window import MainWindow

from integration_support import LOAD_TIMEOUT_MS, WindowFactory


@pytest.fixture(autouse=True)
def quick_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe again after 0.2 s instead of 2 s, and not at all while online."""
    monkeypatch.setattr(
        session_flow,
        "MONITOR_OPTIONS",
        {"initial_delay_s": 0.2, "max_delay_s": 0.5, "online_interval_s": 0, "jitter": 0},
    )


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=7, latency_ms=20)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_config) as server:
        yield server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> Iterator[WindowFactory]:
    """Build windows on the test's data folder; each gets its own client and is shut down at the end."""
    windows: list[MainWindow] = []
    clients: list[KelviqClient] = []

    def factory(server: SandboxServer, *, concurrency: int | None = None, dialogs: bool = True) -> MainWindow:
        # One quick attempt per request, so a stopped server shows up at once.
        client = KelviqClient(
            server.api_url, server.api_key, media_url=server.media_url, retry=RetryPolicy(attempts=1)
        )
        clients.append(client)
        context = AppContext(
            client=client,
            data_dir=data_dir,
            cache_dir=tmp_path / "cache",
            settings_path=tmp_path / "settings.ini",
            concurrency=concurrency,
        )
        window = MainWindow(context, dialogs_allowed=dialogs)
        qtbot.addWidget(window)
        window.resize(1200, 760)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield factory
    for window in windows:
        window.shutdown()
    for client in clients:
        client.close()


@pytest.fixture
def window(make_window: WindowFactory, sandbox: SandboxServer) -> MainWindow:
    return make_window(sandbox)


@pytest.fixture
def open_product(qtbot: QtBot) -> Callable[[MainWindow, str], MainWindow]:
    """Open a product in a window and wait until it shows."""

    def opener(target: MainWindow, product_id: str) -> MainWindow:
        with qtbot.waitSignal(target.product_loaded, timeout=LOAD_TIMEOUT_MS):
            target.open_product(product_id)
        return target

    return opener
