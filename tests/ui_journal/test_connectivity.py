"""ConnectivityMonitor against a real sandbox that is stopped and started again on its port."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui.connectivity import ConnectivityMonitor, backoff_delay, offline_label

SIGNAL_TIMEOUT_MS = 15_000
# Test delays: fast enough to finish quickly, slow enough not to spin the CPU.
FAST_INITIAL_S = 0.05
FAST_MAX_S = 0.2


class RestartableSandbox:
    """A sandbox that can be stopped and started again on the same API port, key and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = SandboxServer(SandboxConfig(port=0, media_port=0, data_dir=data_dir))
        self.server.start()
        self.port = self.server.api_port
        self.api_key = self.server.api_key
        self.api_url = self.server.api_url
        self.product_id = self.server.catalog.well_known["ten"]

    def stop(self) -> None:
        self.server.stop()

    def start_again(self) -> None:
        config = SandboxConfig(
            port=self.port, media_port=0, data_dir=self.data_dir, api_key=self.api_key
        )
        self.server = SandboxServer(config)
        self.server.start()
        assert self.server.api_url == self.api_url


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RestartableSandbox]:
    restartable = RestartableSandbox(tmp_path / "sandbox")
    yield restartable
    restartable.stop()


@pytest.fixture
def client(sandbox: RestartableSandbox) -> Iterator[KelviqClient]:
    with KelviqClient(sandbox.api_url, sandbox.api_key, retry=RetryPolicy(attempts=1)) as api:
        yield api


def make_monitor(probe: object, **options: float) -> ConnectivityMonitor:
    settings = {
        "initial_delay_s": FAST_INITIAL_S,
        "max_delay_s": FAST_MAX_S,
        "online_interval_s": FAST_INITIAL_S,
    }
    settings.update(options)
    return ConnectivityMonitor(probe, rng=random.Random(1), **settings)  # type: ignore[arg-type]


@pytest.fixture
def monitors() -> Iterator[list[ConnectivityMonitor]]:
    started: list[ConnectivityMonitor] = []
    yield started
    for monitor in started:
        monitor.stop()
        assert monitor.wait_for_probe(10_000), "a connectivity probe did not finish"


def test_goes_offline_and_back_online(
    qtbot: QtBot,
    sandbox: RestartableSandbox,
    client: KelviqClient,
    monitors: list[ConnectivityMonitor],
) -> None:
    monitor = make_monitor(lambda: client.get_product(sandbox.product_id))
    monitors.append(monitor)
    with qtbot.waitSignal(monitor.probe_finished, timeout=SIGNAL_TIMEOUT_MS) as first:
        monitor.start()
    assert first.args == [True, ""]
    assert monitor.is_online()

    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as offline:
        sandbox.stop()
    assert offline.args == [False]
    assert not monitor.is_online()
    assert monitor.last_error

    # While offline it keeps probing on the backoff schedule.
    for _ in range(2):
        with qtbot.waitSignal(monitor.probe_finished, timeout=SIGNAL_TIMEOUT_MS) as probe:
            pass
        assert probe.args[0] is False

    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as online:
        sandbox.start_again()
    assert online.args == [True]
    assert monitor.is_online()
    assert monitor.last_error is None


def test_retry_now_probes_at_once(
    qtbot: QtBot,
    sandbox: RestartableSandbox,
    client: KelviqClient,
    monitors: list[ConnectivityMonitor],
) -> None:
    sandbox.stop()
    # A backoff this long would outlast the test, so only retry_now can bring it back.
    monitor = make_monitor(
        lambda: client.get_product(sandbox.product_id),
        initial_delay_s=120.0,
        max_delay_s=120.0,
        online_interval_s=0.0,
    )
    monitors.append(monitor)
    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as offline:
        monitor.start()
    assert offline.args == [False]
    next_probe = monitor.next_probe_in_ms()
    assert next_probe is not None
    assert next_probe > 60_000

    sandbox.start_again()
    started = time.monotonic()
    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as online:
        monitor.retry_now()
    assert online.args == [True]
    assert time.monotonic() - started < 60
    assert monitor.next_probe_in_ms() is None  # no probing while online with interval 0


def test_api_error_counts_as_reachable(
    qtbot: QtBot, sandbox: RestartableSandbox, monitors: list[ConnectivityMonitor]
) -> None:
    with KelviqClient(sandbox.api_url, "wrong-key", retry=RetryPolicy(attempts=1)) as wrong:
        monitor = make_monitor(lambda: wrong.get_product(sandbox.product_id))
        monitors.append(monitor)
        with qtbot.waitSignal(monitor.probe_finished, timeout=SIGNAL_TIMEOUT_MS) as probe:
            monitor.start()
        monitor.stop()
        assert monitor.wait_for_probe(10_000)
    assert probe.args == [True, ""]
    assert monitor.is_online()


def test_broken_probe_counts_as_offline(
    qtbot: QtBot, monitors: list[ConnectivityMonitor]
) -> None:
    def broken() -> None:
        raise ZeroDivisionError("probe bug")

    monitor = make_monitor(broken)
    monitors.append(monitor)
    with qtbot.waitSignal(monitor.probe_finished, timeout=SIGNAL_TIMEOUT_MS) as probe:
        monitor.start()
    assert probe.args[0] is False
    assert "probe bug" in probe.args[1]
    assert not monitor.is_online()


def test_reported_failure_goes_offline(
    qtbot: QtBot, sandbox: RestartableSandbox, client: KelviqClient,
    monitors: list[ConnectivityMonitor],
) -> None:
    monitor = make_monitor(lambda: client.get_product(sandbox.product_id),
                           initial_delay_s=120.0, max_delay_s=120.0, online_interval_s=0.0)
    monitors.append(monitor)
    with qtbot.waitSignal(monitor.probe_finished, timeout=SIGNAL_TIMEOUT_MS):
        monitor.start()
    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as offline:
        monitor.report_failure("Connection refused by 127.0.0.1")
    assert offline.args == [False]
    assert monitor.last_error == "Connection refused by 127.0.0.1"
    with qtbot.waitSignal(monitor.online_changed, timeout=SIGNAL_TIMEOUT_MS) as online:
        monitor.report_success()
    assert online.args == [True]


def test_backoff_doubles_to_maximum() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, rng, initial_s=2.0, maximum_s=60.0, jitter=0.0) for n in range(1, 9)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_backoff_jitter_stays_in_range() -> None:
    rng = random.Random(5)
    for failures in range(1, 12):
        base = min(60.0, 2.0 * 2 ** (failures - 1))
        samples = [backoff_delay(failures, rng, jitter=0.25) for _ in range(200)]
        assert min(samples) >= base * 0.75
        assert max(samples) <= base
        assert len(set(samples)) > 100, "the jitter does not vary"


def test_backoff_huge_failure_count() -> None:
    assert backoff_delay(10_000, random.Random(0), jitter=0.0) == 60.0


def test_backoff_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="failures"):
        backoff_delay(0, random.Random(0))
    with pytest.raises(ValueError, match="jitter"):
        backoff_delay(1, random.Random(0), jitter=1.0)


@pytest.fixture
def kolkata_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Use UTC+05:30, whose half-hour offset shows any missing conversion."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("kolkata_time")
def test_offline_label_today_shows_time() -> None:
    fetched = datetime(2024, 5, 3, 9, 2, tzinfo=UTC)
    now = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    assert offline_label(fetched, now) == "Offline — copy from 14:32"


@pytest.mark.usefixtures("kolkata_time")
def test_offline_label_older_shows_date() -> None:
    fetched = datetime(2024, 5, 3, 9, 2, tzinfo=UTC)
    now = datetime(2024, 5, 4, 12, 0, tzinfo=UTC)
    assert offline_label(fetched, now) == "Offline — copy from 2024-05-03 14:32"


@pytest.mark.usefixtures("kolkata_time")
def test_offline_label_uses_local_day() -> None:
    # 19:00 UTC on the 3rd is already 00:30 on the 4th in UTC+05:30.
    fetched = datetime(2024, 5, 3, 19, 0, tzinfo=UTC)
    now = datetime(2024, 5, 4, 1, 0, tzinfo=UTC)
    assert offline_label(fetched, now) == "Offline — copy from 00:30"
