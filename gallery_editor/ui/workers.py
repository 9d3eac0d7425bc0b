"""Background jobs on ``QThreadPool`` whose results reach the GUI thread as signals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

logger = logging.getLogger(__name__)


class JobSignals(QObject):
    """Signals of one job; created on the GUI thread so queued delivery lands there."""

    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception it raised


class Job(QRunnable):
    """Runs one function on a pool thread and reports its result or exception as data.

    `run` catches every exception, so nothing escapes into the pool thread, and it never
    touches a widget: the receivers get the outcome through queued signals.
    """

    def __init__(self, function: Callable[[], Any], name: str = "job") -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps the object; the pool must not delete it
        self.function = function
        self.name = name
        self.signals = JobSignals()

    def run(self) -> None:
        try:
            result = self.function()
        except BaseException as error:  # noqa: BLE001 - reported to the GUI as data
            logger.debug("Background job %s failed: %r", self.name, error)
            self.signals.failed.emit(error)
        else:
            self.signals.finished.emit(result)


class JobRunner(QObject):
    """Starts jobs on a thread pool and keeps each one alive until it has reported."""

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool.globalInstance()
        self._running: set[Job] = set()

    def start(
        self,
        function: Callable[[], Any],
        on_finished: Callable[[Any], None],
        on_failed: Callable[[BaseException], None],
        name: str = "job",
    ) -> Job:
        """Run `function` in the pool; call `on_finished` or `on_failed` on the GUI thread.

        The callbacks should be bound methods of QObjects living on the GUI thread so Qt
        queues the call to that thread.
        """
        job = Job(function, name)
        job.signals.finished.connect(on_finished)
        job.signals.failed.connect(on_failed)
        job.signals.finished.connect(lambda _result: self._release(job))
        job.signals.failed.connect(lambda _error: self._release(job))
        self._running.add(job)
        self._pool.start(job)
        return job

    def pending(self) -> int:
        return len(self._running)

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        """Block until the pool is idle (for shutdown); returns False on timeout."""
        return self._pool.waitForDone(msecs)

    def _release(self, job: Job) -> None:
        self._running.discard(job)
