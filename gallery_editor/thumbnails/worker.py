"""A pool of persistent decode processes that can be killed when a decode runs past its time limit."""

from __future__ import annotations

import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
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
# Added to a worker process's nice value, so the GUI thread gets a CPU as soon
# as a timer or an input event wakes it, even while decodes keep every core busy.
# Other programs at the normal priority also come before the decodes.
DEFAULT_NICENESS = 10


# Lines of standard error logged per job; native decoders can repeat one message per strip.
_MAX_STDERR_LINES_PER_JOB = 20
_STDERR_READ_SIZE = 64 * 1024
# The worker's end of its job pipe, so a running job can report progress to the parent.
_job_connection: Connection | None = None


class WorkerLost(DecodeError):
    """A job ran past its time limit or its process died; ``progress`` is the job's last report_progress() value."""

    def __init__(self, reason: str, progress: Any = None) -> None:
        super().__init__(reason)
        self.progress = progress


def report_progress(value: Any) -> None:
    """Tell the parent that the job entered its decode phase; from then on the decode time limit applies.

    ``value`` is kept by the parent and handed back in WorkerLost if the job is
    then killed. Outside a worker process this does nothing.
    """
    if _job_connection is not None:
        _job_connection.send(("progress", value))


def default_worker_count() -> int:
    """Return the number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def echo_after(seconds: float, payload: bytes, decode_seconds: float | None = None) -> bytes:
    """Sleep, then return ``payload``: measures the pool's round trip and exercises its time limits.

    With ``decode_seconds`` the job acts like a download followed by a decode: it
    reports ``payload`` as progress after the first sleep, then sleeps that much more.
    """
    time.sleep(seconds)
    if decode_seconds is not None:
        report_progress(payload)
        time.sleep(decode_seconds)
    return payload


@dataclass(order=True)
class _Job:
    sort_key: tuple[int, int]
    function: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    future: Future[Any] = field(compare=False)
    prelude_timeout: float | None = field(default=None, compare=False)


class DecodePool:
    """Runs decodes in ``workers`` child processes, higher priority first.

    A job that runs longer than ``timeout`` seconds has its process killed and
    replaced, and its future fails with WorkerLost("timed out"), while the other
    processes go on. A process that dies fails its job with "decoder crashed".
    A job submitted with ``prelude_timeout`` gets that long until it calls
    report_progress(), and ``timeout`` from then on. Whatever a worker writes
    to its standard error, native decoders included, goes to this module's log.
    Processes start with the ``forkserver`` method (``spawn`` where that is missing)
    so no lock held by a thread of the app is copied into a child.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        niceness: int | None = None,
    ) -> None:
        self.worker_count = workers if workers is not None else default_worker_count()
        self.niceness = DEFAULT_NICENESS if niceness is None else niceness
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
        self,
        function: Callable[..., Any],
        *args: Any,
        priority: int = 0,
        prelude_timeout: float | None = None,
    ) -> Future[Any]:
        """Queue ``function(*args)`` for a worker; it must be importable by the child."""
        future: Future[Any] = Future()
        with self._condition:
            if self._closed:
                raise RuntimeError("decode pool is shut down; create a new one to decode more")
            job = _Job((-priority, next(self._sequence)), function, args, future, prelude_timeout)
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
                    worker = _WorkerProcess(self._context, self._memory_limit, self.niceness)
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
        call = _Call(job.function, job.args, self.timeout, job.prelude_timeout)
        try:
            status, value = worker.call(call)
        except TimeoutError:
            limit = self.timeout if call.reached_decode else call.first_limit
            logger.warning("Worker job ran past %.1f s; killing worker process %s", limit, worker.pid)
            worker.kill()
            reason = "timed out" if call.reached_decode else "download timed out"
            job.future.set_exception(WorkerLost(reason, call.progress))
            return None
        except (EOFError, OSError) as error:
            logger.warning("Decode worker process %s died: %r", worker.pid, error)
            worker.kill()
            job.future.set_exception(WorkerLost("decoder crashed", call.progress))
            return None
        if status == "ok":
            job.future.set_result(value)
        else:
            job.future.set_exception(DecodeError(value))
        return worker


@dataclass
class _Call:
    """One job as a worker runs it, with the progress it has reported so far."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float
    prelude_timeout: float | None
    reached_decode: bool = False
    progress: Any = None

    def __post_init__(self) -> None:
        # Without a prelude the whole job is a decode and gets the decode limit.
        self.reached_decode = self.prelude_timeout is None

    @property
    def first_limit(self) -> float:
        return self.timeout if self.prelude_timeout is None else self.prelude_timeout


class _WorkerProcess:
    def __init__(
        self, context: multiprocessing.context.BaseContext, memory_limit: int | None, niceness: int
    ) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        stderr_reader, stderr_writer = context.Pipe(duplex=False)
        self._connection = parent_end
        self._process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_end, memory_limit, stderr_writer, niceness),
            name="thumbnail-decoder",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        stderr_writer.close()
        self.pid = self._process.pid
        self._stderr = _StderrForwarder(stderr_reader, self.pid)

    def call(self, call: _Call) -> tuple[str, Any]:
        """Send ``call`` and wait for its result, taking progress reports and standard error on the way."""
        self._connection.send((call.function, call.args))
        self._stderr.start_job()
        deadline = time.monotonic() + call.first_limit
        try:
            while True:
                message = self._next_message(deadline)
                if message[0] != "progress":
                    return message
                call.reached_decode = True
                call.progress = message[1]
                deadline = time.monotonic() + call.timeout
        finally:
            self._stderr.end_job()

    def _next_message(self, deadline: float) -> tuple[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready = wait([self._connection, *self._stderr.sources()], remaining)
            if self._connection in ready:
                status, value = self._connection.recv()
                return status, value
            if ready:
                self._stderr.read()

    def kill(self) -> None:
        self._process.kill()
        self._process.join(2.0)
        self._connection.close()
        self._stderr.close()

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
            self._stderr.close()


class _StderrForwarder:
    """Log the lines a worker writes to its standard error, at most a few per job.

    The worker's fd 2 is the write end of a pipe, so libtiff and other native
    libraries print into the app's log instead of the user's terminal.
    """

    def __init__(self, reader: Connection, pid: int | None) -> None:
        self._reader: Connection | None = reader
        self._pid = pid
        self._partial = b""
        self._logged = 0
        self._dropped = 0

    def sources(self) -> list[Connection]:
        return [self._reader] if self._reader is not None else []

    def start_job(self) -> None:
        self._logged = 0
        self._dropped = 0

    def end_job(self) -> None:
        # Output from the last moments of the job is already in the pipe; take it now.
        if self._reader is not None and self._reader.poll(0):
            self.read()
        if self._partial:
            self._log_line(self._partial)
            self._partial = b""
        if self._dropped:
            logger.info("Decode worker process %s wrote %d more lines to standard error", self._pid, self._dropped)

    def read(self) -> None:
        if self._reader is None:
            return
        try:
            data = os.read(self._reader.fileno(), _STDERR_READ_SIZE)
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._log_line(line)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _log_line(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip()
        if not text:
            return
        if self._logged >= _MAX_STDERR_LINES_PER_JOB:
            self._dropped += 1
            return
        self._logged += 1
        logger.info("Decode worker process %s: %s", self._pid, text)


def _process_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Pillow and httpx are imported once in the fork server, so a replacement worker starts fast.
        context.set_forkserver_preload(["gallery_editor.thumbnails.decode", "gallery_editor.thumbnails.remote"])
        return context
    return multiprocessing.get_context("spawn")


def _worker_main(connection: Connection, memory_limit: int | None, stderr_writer: Connection, niceness: int) -> None:
    """Run calls from ``connection`` until it closes or sends None."""
    global _job_connection
    # Ctrl+C in a terminal reaches the whole process group; the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_stderr(stderr_writer)
    _limit_memory(memory_limit)
    _lower_priority(niceness)
    _job_connection = connection
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        connection.send(_call_safely(function, args))


def _redirect_stderr(stderr_writer: Connection) -> None:
    """Point fd 2 at the pipe the parent logs from, and send this process's log records there too."""
    os.dup2(stderr_writer.fileno(), 2)
    stderr_writer.close()
    # A forkserver child starts without the app's logging set-up, so warnings
    # would otherwise go to Python's last-resort handler only.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


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


def _lower_priority(niceness: int) -> None:
    if niceness <= 0:
        return
    try:
        os.nice(niceness)
    except (AttributeError, OSError) as error:  # os.nice is missing on Windows
        logger.warning("Cannot lower the CPU priority of decode worker process %s: %s", os.getpid(), error)


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
