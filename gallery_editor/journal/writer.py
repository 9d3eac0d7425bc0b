"""Background writer: runs journal calls in order on one thread, away from the GUI thread."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from gallery_editor.journal.database import DEFAULT_BUSY_TIMEOUT
from gallery_editor.journal.errors import JournalError
from gallery_editor.journal.journal import Journal

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class _Task:
    name: str
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    future: Future[Any] = field(default_factory=Future)


class JournalWriter:
    """A queue and one thread that owns its own ``Journal`` and runs submitted calls in order.

    The constructor opens the journal on the thread and waits for it, so opening errors
    (``JournalNewerSchemaError``, ``JournalStorageError``) raise here, and
    ``recovered_from`` is known when it returns. Each call's result or exception is
    delivered through its ``concurrent.futures.Future``; failures are also logged.
    Futures complete on the writer thread, so a GUI must move their results to its
    own thread. ``close()`` runs the calls still queued before closing the journal,
    and is also called at interpreter exit if the owner did not call it.
    """

    def __init__(
        self, journal_folder: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.journal_folder = Path(journal_folder)
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._state_lock = threading.Lock()
        self._closed = False

        opened: Future[Journal] = Future()
        self._thread = threading.Thread(
            target=self._run,
            args=(busy_timeout, opened),
            name=f"journal-writer {self.journal_folder}",
            # The atexit hook below drains the queue; daemon only keeps a forgotten
            # writer from blocking interpreter exit before that hook runs.
            daemon=True,
        )
        self._thread.start()
        journal = opened.result()
        self.path = journal.path
        self.recovered_from = journal.recovered_from
        atexit.register(self.close)

    @overload
    def submit(
        self, function: Callable[Concatenate[Journal, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]: ...

    @overload
    def submit(self, function: str, /, *args: Any, **kwargs: Any) -> Future[Any]: ...

    def submit(self, function: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue a call and return its future.

        ``function`` is either the name of a public ``Journal`` method or a callable
        that receives the writer's ``Journal`` as its first argument. Raises
        ``RuntimeError`` after ``close()``.
        """
        task = _Task(_task_name(function), _resolve(function), args, kwargs)
        with self._state_lock:
            if self._closed:
                raise RuntimeError(
                    f"The journal writer for {self.journal_folder} is closed; "
                    f"{task.name} was not run. Create a new JournalWriter."
                )
            self._queue.put(task)
        return task.future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every call submitted so far has finished.

        Raises ``TimeoutError`` if that takes longer than ``timeout`` seconds.
        """
        try:
            marker = self.submit(_do_nothing)
        except RuntimeError:
            # Closed: close() already ran everything that was queued.
            self._thread.join(timeout)
            return
        marker.result(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Run the queued calls, close the journal and stop the thread.

        Raises ``TimeoutError`` if the thread has not stopped after ``timeout`` seconds.
        """
        with self._state_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
                atexit.unregister(self.close)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(
                f"The journal writer for {self.journal_folder} did not finish its queued "
                f"calls within {timeout:g} s; they keep running in the background."
            )

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, busy_timeout: float, opened: Future[Journal]) -> None:
        try:
            journal = Journal(self.journal_folder, busy_timeout=busy_timeout)
        except BaseException as error:
            opened.set_exception(error)
            return
        opened.set_result(journal)
        logger.debug("Journal writer started on %s", journal.path)

        try:
            while (task := self._queue.get()) is not None:
                _run_task(task, journal)
        finally:
            journal.close()
            logger.debug("Journal writer stopped on %s", journal.path)


def _run_task(task: _Task, journal: Journal) -> None:
    if not task.future.set_running_or_notify_cancel():
        return
    try:
        result = task.function(journal, *task.args, **task.kwargs)
    except BaseException as error:
        # Even SystemExit goes to the future: ending the thread here would leave every
        # queued future pending forever.
        # Environment failures are expected now and then and need no traceback.
        logger.error(
            "Journal call %s failed on %s: %s",
            task.name,
            journal.path,
            error,
            exc_info=not isinstance(error, JournalError),
        )
        task.future.set_exception(error)
    else:
        task.future.set_result(result)


def _resolve(function: str | Callable[..., Any]) -> Callable[..., Any]:
    if not isinstance(function, str):
        if not callable(function):
            raise TypeError(
                f"submit() takes a Journal method name or a callable, got {function!r}"
            )
        return function
    method = getattr(Journal, function, None)
    if function.startswith("_") or not callable(method):
        raise AttributeError(
            f"Journal has no public method {function!r}; pass a method name such as "
            "'save_session' or a callable that takes the Journal"
        )
    return method


def _task_name(function: str | Callable[..., Any]) -> str:
    if isinstance(function, str):
        return function
    return getattr(function, "__qualname__", repr(function))


def _do_nothing(journal: Journal) -> None:
    del journal
