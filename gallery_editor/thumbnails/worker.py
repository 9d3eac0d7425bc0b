"""A pool of persistent decode processes that can be killed when a decode runs past its time limit."""

from __future__ import annotations

import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from gallery_editor.thumbnails.decode import (
    DEFAULT_MAX_PIXELS,
    DecodedThumbnail,
    DecodeError,
    decode_thumbnail,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
# Address-space limit of a worker process. The pixel cap keeps a decode near
# 0.5 GB, so this only stops a decoder bug that allocates without bound.
DEFAULT_MEMORY_LIMIT = 3 * 2**30


def default_worker_count() -> int:
    """Return the number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def echo_after(seconds: float, payload: bytes) -> bytes:
    """Sleep, then return ``payload``: measures the pool's round trip and exercises its time limit."""
    time.sleep(seconds)
    return payload


@dataclass(order=True)
class _Job:
    sort_key: tuple[int, int]
    function: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    future: Future[Any] = field(compare=False)


class DecodePool:
    """Runs decodes in ``workers`` child processes, higher priority first.

    A job that runs longer than ``timeout`` seconds has its process killed and
    replaced, and its future fails with DecodeError("timed out"), while the other
    processes go on. A process that dies fails its job with "decoder crashed".
    Processes start with the ``forkserver`` method (``spawn`` where that is missing)
    so no lock held by a thread of the app is copied into a child.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.worker_count = workers if workers is not None else default_worker_count()
        if self.worker_count < 1:
            raise ValueError(f"decode pool needs at least 1 worker, got {self.worker_count}")
        self.timeout = timeout
        self._memory_limit = memory_limit
        self._context = _process_context()
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        self._slots = [
            threading.Thread(target=self._run_slot, name=f"decode-slot-{index}", daemon=True)
            for index in range(self.worker_count)
        ]
        for slot in self._slots:
            slot.start()

    def submit_decode(
        self, data: bytes, edge: int, max_pixels: int = DEFAULT_MAX_PIXELS, priority: int = 0
    ) -> Future[DecodedThumbnail]:
        """Queue a decode_thumbnail() call; the future fails with DecodeError."""
        return self.submit_call(decode_thumbnail, data, edge, max_pixels, priority=priority)

    def submit_call(
        self, function: Callable[..., Any], *args: Any, priority: int = 0
    ) -> Future[Any]:
        """Queue ``function(*args)`` for a worker; it must be importable by the child."""
        future: Future[Any] = Future()
        with self._condition:
            if self._closed:
                raise RuntimeError("decode pool is shut down; create a new one to decode more")
            job = _Job((-priority, next(self._sequence)), function, args, future)
            heapq.heappush(self._queue, job)
            self._condition.notify()
        return future

    def cancel_queued(self) -> int:
        """Cancel every job no worker has started; return how many were cancelled."""
        with self._condition:
            jobs, self._queue = self._queue, []
        for job in jobs:
            job.future.cancel()
        return len(jobs)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel queued jobs, stop the workers and wait up to ``timeout`` seconds per slot."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self.cancel_queued()
        for slot in self._slots:
            slot.join(timeout)

    # Slot threads: each owns one worker process and feeds it one job at a time.

    def _run_slot(self) -> None:
        worker: _WorkerProcess | None = None
        try:
            while (job := self._next_job()) is not None:
                if not job.future.set_running_or_notify_cancel():
                    continue
                if worker is None:
                    worker = _WorkerProcess(self._context, self._memory_limit)
                worker = self._run_job(worker, job)
        finally:
            if worker is not None:
                worker.stop()

    def _next_job(self) -> _Job | None:
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            return heapq.heappop(self._queue)

    def _run_job(self, worker: _WorkerProcess, job: _Job) -> _WorkerProcess | None:
        """Run one job; return the worker to keep, or None when it had to be killed."""
        try:
            status, value = worker.call(job.function, job.args, self.timeout)
        except TimeoutError:
            logger.warning("Decode ran past %.1f s; killing worker process %s", self.timeout, worker.pid)
            worker.kill()
            job.future.set_exception(DecodeError("timed out"))
            return None
        except (EOFError, OSError) as error:
            logger.warning("Decode worker process %s died: %r", worker.pid, error)
            worker.kill()
            job.future.set_exception(DecodeError("decoder crashed"))
            return None
        if status == "ok":
            job.future.set_result(value)
        else:
            job.future.set_exception(DecodeError(value))
        return worker


class _WorkerProcess:
    def __init__(self, context: multiprocessing.context.BaseContext, memory_limit: int | None) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self._connection = parent_end
        self._process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child_end, memory_limit), name="thumbnail-decoder", daemon=True
        )
        self._process.start()
        child_end.close()
        self.pid = self._process.pid

    def call(self, function: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> tuple[str, Any]:
        self._connection.send((function, args))
        if not self._connection.poll(timeout):
            raise TimeoutError
        status, value = self._connection.recv()
        return status, value

    def kill(self) -> None:
        self._process.kill()
        self._process.join(2.0)
        self._connection.close()

    def stop(self) -> None:
        try:
            self._connection.send(None)
        except OSError:
            pass
        self._process.join(2.0)
        if self._process.is_alive():
            self.kill()
        else:
            self._connection.close()


def _process_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Pillow is imported once in the fork server, so a replacement worker starts fast.
        context.set_forkserver_preload(["gallery_editor.thumbnails.decode"])
        return context
    return multiprocessing.get_context("spawn")


def _worker_main(connection: Connection, memory_limit: int | None) -> None:
    """Run calls from ``connection`` until it closes or sends None."""
    # Ctrl+C in a terminal reaches the whole process group; the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(memory_limit)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        connection.send(_call_safely(function, args))


def _call_safely(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return "ok", function(*args)
    except DecodeError as error:
        return "error", error.reason
    except MemoryError:
        return "error", "too large to decode (out of memory)"
    except Exception as error:  # noqa: BLE001 - the worker must survive any failure of a call
        logger.warning("Decode worker call failed: %r", error)
        return "error", f"decoder failed ({type(error).__name__})"


def _limit_memory(memory_limit: int | None) -> None:
    if memory_limit is None:
        return
    try:
        import resource
    except ImportError:  # not on Windows
        return
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ValueError, OSError) as error:
        logger.debug("Cannot limit decode worker memory to %d bytes: %s", memory_limit, error)
