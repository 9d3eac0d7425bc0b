"""Watches whether the API can be reached, probing off the GUI thread with exponential backoff."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from gallery_editor.api.errors import ApiError, NetworkError
from gallery_editor.ui.workers import JobRunner

logger = logging.getLogger(__name__)

DEFAULT_INITIAL_DELAY_S = 2.0
DEFAULT_MAX_DELAY_S = 60.0
DEFAULT_ONLINE_INTERVAL_S = 30.0
# Each wait is shortened by a random part of up to this fraction, so many windows that
# lost the same server do not all probe it at the same moment.
DEFAULT_JITTER = 0.25
# 2 ** 30 times any sensible initial delay is far beyond any maximum delay.
_MAX_EXPONENT = 30


def backoff_delay(
    failures: int,
    rng: random.Random,
    *,
    initial_s: float = DEFAULT_INITIAL_DELAY_S,
    maximum_s: float = DEFAULT_MAX_DELAY_S,
    jitter: float = DEFAULT_JITTER,
) -> float:
    """Return the wait in seconds after ``failures`` failed probes in a row (1 or more).

    The wait doubles from ``initial_s`` up to ``maximum_s``, then a random fraction of up
    to ``jitter`` of it is taken off, so it never exceeds ``maximum_s``.
    """
    if failures < 1:
        raise ValueError(f"failures must be 1 or more, got {failures}")
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be a fraction from 0 up to (not including) 1, got {jitter}")
    exponent = min(failures - 1, _MAX_EXPONENT)
    base = min(maximum_s, initial_s * 2**exponent)
    return base * (1.0 - jitter * rng.random())


def offline_label(fetched_at: datetime, now: datetime | None = None) -> str:
    """Describe an offline copy as "Offline — copy from 14:32", with the date if not from today.

    Both times are shown in the local time zone. A naive datetime is taken as local time.
    """
    local_fetched = fetched_at.astimezone()
    local_now = (now or datetime.now().astimezone()).astimezone()
    if local_fetched.date() == local_now.date():
        moment = local_fetched.strftime("%H:%M")
    else:
        moment = local_fetched.strftime("%Y-%m-%d %H:%M")
    return f"Offline — copy from {moment}"


class ConnectivityMonitor(QObject):
    """Probes the API on a worker thread and reports when it becomes reachable or unreachable.

    ``probe`` is a cheap blocking call such as ``lambda: client.get_product(product_id)``.
    A ``NetworkError`` means offline. Any other ``ApiError`` means the server responded, so
    it counts as online. While offline the monitor probes again after ``backoff_delay``
    waits; while online it probes every ``online_interval_s`` seconds (0 turns that off
    and leaves detection to ``report_failure``). The monitor starts out online and
    ``online_changed`` is emitted only when that changes.
    """

    online_changed = Signal(bool)
    # Every finished probe: reachable or not, and the failure message ("" when reachable).
    probe_finished = Signal(bool, str)

    def __init__(
        self,
        probe: Callable[[], object],
        parent: QObject | None = None,
        *,
        initial_delay_s: float = DEFAULT_INITIAL_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        online_interval_s: float = DEFAULT_ONLINE_INTERVAL_S,
        jitter: float = DEFAULT_JITTER,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(parent)
        if initial_delay_s <= 0 or max_delay_s < initial_delay_s:
            raise ValueError(
                f"invalid delays: initial_delay_s={initial_delay_s} must be positive and "
                f"max_delay_s={max_delay_s} at least as large"
            )
        if online_interval_s < 0:
            raise ValueError(f"online_interval_s must be 0 (off) or more, got {online_interval_s}")
        backoff_delay(1, random.Random(0), jitter=jitter)  # validates jitter
        self._probe = probe
        self._initial_delay_s = initial_delay_s
        self._max_delay_s = max_delay_s
        self._online_interval_s = online_interval_s
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._online = True
        self._running = False
        self._probing = False
        self._failures = 0
        self._generation = 0
        self._last_error: str | None = None
        pool = QThreadPool(self)
        pool.setMaxThreadCount(1)
        self._runner = JobRunner(pool, self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._probe_now)

    # -- public interface --------------------------------------------------------------------

    def start(self) -> None:
        """Probe at once, then keep probing on the schedule."""
        self._running = True
        self._generation += 1
        self._schedule(0.0)

    def stop(self) -> None:
        """Stop probing. A probe still running is ignored when it finishes."""
        self._running = False
        self._generation += 1
        self._probing = False
        self._timer.stop()

    def retry_now(self) -> None:
        """Probe at once and restart the backoff from the initial delay (a *Retry now* button)."""
        self._failures = 0
        if not self._running:
            self.start()
            return
        if self._probing:
            return  # the running probe's result arrives soon
        self._schedule(0.0)

    def report_failure(self, message: str) -> None:
        """Go offline at once because a real request failed with a ``NetworkError``."""
        self._failures = max(self._failures, 1)
        self._last_error = message
        self._set_online(False)
        if self._running and not self._probing:
            self._schedule(self._next_offline_delay())

    def report_success(self) -> None:
        """Go online at once because a real request reached the server."""
        self._failures = 0
        self._last_error = None
        self._set_online(True)
        if not self._running or self._probing:
            return
        if self._online_interval_s > 0:
            self._schedule(self._online_interval_s)
        else:
            self._timer.stop()

    def is_online(self) -> bool:
        return self._online

    def is_running(self) -> bool:
        return self._running

    @property
    def last_error(self) -> str | None:
        """The message of the last failed probe or reported failure, or None when online."""
        return self._last_error

    def next_probe_in_ms(self) -> int | None:
        """Milliseconds until the next scheduled probe, or None when none is scheduled."""
        return self._timer.remainingTime() if self._timer.isActive() else None

    def wait_for_probe(self, msecs: int = 30_000) -> bool:
        """Block until no probe is running (for shutdown); returns False on timeout."""
        return self._runner.wait_for_done(msecs)

    # -- probing -------------------------------------------------------------------------------

    def _schedule(self, delay_s: float) -> None:
        self._timer.start(round(delay_s * 1000))

    def _probe_now(self) -> None:
        if not self._running or self._probing:
            return
        self._probing = True
        generation = self._generation
        self._runner.start(
            lambda: (generation, self._run_probe()),
            self._on_probe_done,
            self._on_probe_crashed,
            name="connectivity probe",
        )

    def _run_probe(self) -> str | None:
        """Run the probe on the worker thread and return None when reachable, else the reason."""
        try:
            self._probe()
        except NetworkError as error:
            return error.message
        except ApiError as error:
            # The server sent a response, so it is reachable. The caller handles the error itself.
            logger.debug("Connectivity probe reached the server: %s", error.message)
        except Exception as error:  # noqa: BLE001 - a broken probe must not stop the monitor
            logger.error("Connectivity probe raised an unexpected error", exc_info=error)
            return f"The connectivity check failed unexpectedly: {error!r}"
        return None

    def _on_probe_crashed(self, error: BaseException) -> None:
        # Only BaseExceptions such as KeyboardInterrupt get past _run_probe.
        logger.error("Connectivity probe was interrupted: %r", error)
        self._probing = False

    def _on_probe_done(self, outcome: tuple[int, str | None]) -> None:
        generation, message = outcome
        if generation != self._generation:
            return  # stopped or restarted meanwhile
        self._probing = False
        reachable = message is None
        if reachable:
            self._failures = 0
            self._last_error = None
        else:
            self._failures += 1
            self._last_error = message
            logger.info("API unreachable (probe %d): %s", self._failures, message)
        self._set_online(reachable)
        self.probe_finished.emit(reachable, message or "")
        if not self._running:
            return
        if reachable:
            if self._online_interval_s > 0:
                self._schedule(self._online_interval_s)
        else:
            self._schedule(self._next_offline_delay())

    def _next_offline_delay(self) -> float:
        return backoff_delay(
            max(self._failures, 1),
            self._rng,
            initial_s=self._initial_delay_s,
            maximum_s=self._max_delay_s,
            jitter=self._jitter,
        )

    def _set_online(self, online: bool) -> None:
        if online == self._online:
            return
        self._online = online
        logger.info("API is now %s", "reachable" if online else "unreachable, working offline")
        self.online_changed.emit(online)

