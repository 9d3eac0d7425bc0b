"""Schedule thumbnail work off the GUI thread and deliver QImages to it through queued signals."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QMetaObject, QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from gallery_editor.thumbnails.cache import StoredValidators, ThumbnailDiskCache
from gallery_editor.thumbnails.decode import DEFAULT_MAX_PIXELS, DecodeError
from gallery_editor.thumbnails.download import Validators
from gallery_editor.thumbnails.remote import (
    FetchLimits,
    RemoteThumbnail,
    ResponseFacts,
    fetch_and_decode,
)
from gallery_editor.thumbnails.worker import (
    DEFAULT_TIMEOUT,
    DecodePool,
    WorkerLost,
    default_worker_count,
)

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_CACHE_BYTES = 128 * 2**20
_SHUTDOWN_JOIN_SECONDS = 3.0
# GUI-thread time one delivery call may take, well inside a 16 ms frame at 60 Hz.
_DELIVERY_SLICE_SECONDS = 0.006
# Added to the decode priority of a visible tile, so it ranks above any priority the UI passes.
_VISIBLE_BOOST = 2**30
# Threads that read the disk cache; a read is one file and a CRC-32, both outside the GIL.
_DISK_THREADS = 2


class _Stage(Enum):
    DISK = 0
    NETWORK = 1


class _Kind(Enum):
    LOAD = 0
    REVALIDATE = 1


@dataclass(eq=False)
class _Task:
    """One unit of background work for a URL. Tasks compare by identity."""

    url: str
    kind: _Kind
    priority: int
    generation: int
    sequence: int
    rank: tuple[int, int, int] = (0, 0, 0)
    started: bool = False
    stage: _Stage = _Stage.DISK


@dataclass
class _Outcome:
    url: str
    generation: int
    image: QImage | None = None
    reason: str | None = None
    finished_task: _Task | None = field(default=None)


class ThumbnailLoader(QObject):
    """Loads thumbnails for the gallery: memory LRU, then disk cache, then download and decode.

    All public methods are for the GUI thread and return without waiting on the
    network, the disk or a decoder. Signals arrive on the GUI thread in batches.
    A disk-cached thumbnail is shown first and revalidated with a conditional GET
    afterwards; ``thumbnail_ready`` fires again only when the image changed.

    Work goes through two queues. Disk threads look each URL up in the disk
    cache, and what they miss moves on to the network queue, whose threads each
    hand one job at a time to a worker process that downloads and decodes it.
    """

    thumbnail_ready = Signal(str, QImage)
    thumbnail_failed = Signal(str, str)
    loading_changed = Signal(int)

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        workers: int | None = None,
        max_bytes: int = 50 * 2**20,
        edge: int = 512,
        parent: QObject | None = None,
        decode_timeout: float = DEFAULT_TIMEOUT,
        memory_cache_bytes: int = DEFAULT_MEMORY_CACHE_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__(parent)
        self.edge = edge
        self._cache_dir = cache_dir
        self._max_pixels = max_pixels
        self._memory = _ImageLru(memory_cache_bytes)
        self._limits = FetchLimits(max_bytes=max_bytes)
        worker_count = workers if workers is not None else default_worker_count()
        self._pool = DecodePool(worker_count, timeout=decode_timeout)

        self._lock = threading.Condition()
        self._heaps: dict[_Stage, list[tuple[tuple[int, int, int], int, _Task]]] = {stage: [] for stage in _Stage}
        self._heap_counter = itertools.count()
        self._pending: dict[str, _Task] = {}
        self._in_flight: dict[str, _Task] = {}
        self._revalidation_scheduled: set[str] = set()
        self._visible: set[str] = set()
        self._generation = 0
        self._sequence = itertools.count()
        self._outbox: list[_Outcome] = []
        self._closed = False
        self._disk: ThumbnailDiskCache | None = None
        self._disk_opened = False
        self._disk_lock = threading.Lock()

        # One network thread more than there are workers keeps one job queued in
        # the pool, so a worker starts its next download as soon as it is free,
        # while the loader's own queue, which set_visible() reorders, holds the rest.
        self._threads = [
            threading.Thread(target=self._run_thread, args=(_Stage.DISK,), name=f"thumbnail-disk-{index}", daemon=True)
            for index in range(_DISK_THREADS)
        ] + [
            threading.Thread(target=self._run_thread, args=(_Stage.NETWORK,), name=f"thumbnail-net-{index}", daemon=True)
            for index in range(worker_count + 1)
        ]
        for thread in self._threads:
            thread.start()

    # Public interface (GUI thread)

    def request(self, url: str, priority: int = 0) -> None:
        """Queue ``url``. Duplicates merge into one request with the higher priority."""
        image = self._memory.get(url)
        with self._lock:
            if self._closed:
                return
            if image is not None:
                self._outbox_append(_Outcome(url, self._generation, image=image))
                return
            if self._merge_duplicate(url, priority):
                return
            task = self._new_task(url, _Kind.LOAD, priority)
            if self._cache_dir is None:
                task.stage = _Stage.NETWORK
            self._pending[url] = task
            self._push(task)
            count = len(self._pending)
        self.loading_changed.emit(count)

    def set_visible(self, urls: Sequence[str]) -> None:
        """Move queued requests for ``urls`` (the viewport) ahead of all others."""
        with self._lock:
            changed = self._visible.symmetric_difference(urls)
            self._visible = set(urls)
            for url in changed:
                task = self._pending.get(url)
                if task is not None and not task.started:
                    self._push(task)

    def cancel_pending(self) -> None:
        """Drop all queued work, for example on a product switch. Work already running is not reported."""
        with self._lock:
            self._generation += 1
            for heap in self._heaps.values():
                heap.clear()
            self._pending.clear()
            self._revalidation_scheduled.clear()
            self._visible.clear()
        self.loading_changed.emit(0)

    def cached(self, url: str) -> QImage | None:
        """Return the thumbnail from the in-memory LRU, or None."""
        return self._memory.get(url)

    def shutdown(self) -> None:
        """Stop the I/O threads and decode workers, waiting a few seconds at most.

        NOTE: a download still running after that wait is left to its daemon
        thread, which ends at the download deadline or when the process exits.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for heap in self._heaps.values():
                heap.clear()
            self._pending.clear()
            self._lock.notify_all()
        self._pool.shutdown(timeout=_SHUTDOWN_JOIN_SECONDS)
        for thread in self._threads:
            thread.join(_SHUTDOWN_JOIN_SECONDS)
        with self._disk_lock:
            if self._disk is not None:
                self._disk.close()
                self._disk = None
        logger.info("Thumbnail loader stopped")

    # Queue bookkeeping: the caller holds self._lock.

    def _new_task(self, url: str, kind: _Kind, priority: int) -> _Task:
        task = _Task(url, kind, priority, self._generation, next(self._sequence))
        if kind is _Kind.REVALIDATE:
            task.stage = _Stage.NETWORK
        return task

    def _merge_duplicate(self, url: str, priority: int) -> bool:
        task = self._pending.get(url)
        if task is not None:
            if priority > task.priority and not task.started:
                task.priority = priority
                self._push(task)
            return True
        running = self._in_flight.get(url)
        if running is not None and running.kind is _Kind.LOAD:
            # A request cancelled while it ran is wanted again: report its result.
            running.generation = self._generation
            self._pending[url] = running
            return True
        return False

    def _push(self, task: _Task) -> None:
        if task.kind is _Kind.REVALIDATE:
            rank_class = 2
        else:
            rank_class = 0 if task.url in self._visible else 1
        task.rank = (rank_class, -task.priority, task.sequence)
        # The counter keeps heap entries comparable when one task is pushed twice.
        heapq.heappush(self._heaps[task.stage], (task.rank, next(self._heap_counter), task))
        # Threads of both stages wait on one condition, so all are woken to find theirs.
        self._lock.notify_all()

    def _pop_task(self, stage: _Stage) -> _Task | None:
        """Wait for the best current task of ``stage``, skipping heap entries that reprioritising made stale."""
        heap = self._heaps[stage]
        with self._lock:
            while True:
                if self._closed:
                    return None
                while heap:
                    rank, _, task = heapq.heappop(heap)
                    if self._is_current(task, rank, stage):
                        task.started = True
                        self._in_flight[task.url] = task
                        return task
                self._lock.wait()

    def _is_current(self, task: _Task, rank: tuple[int, int, int], stage: _Stage) -> bool:
        if task.started or task.stage is not stage or rank != task.rank:
            return False
        if task.generation != self._generation:
            return False
        if task.kind is _Kind.LOAD:
            return self._pending.get(task.url) is task
        return True

    def _outbox_append(self, outcome: _Outcome) -> None:
        was_empty = not self._outbox
        self._outbox.append(outcome)
        if was_empty:
            # One queued call drains everything that lands before the GUI thread runs it.
            QMetaObject.invokeMethod(self, "_deliver_outcomes", Qt.ConnectionType.QueuedConnection)

    # GUI thread: delivery

    @Slot()
    def _deliver_outcomes(self) -> None:
        """Emit queued outcomes for up to a few milliseconds, then yield to the event loop."""
        started = time.perf_counter()
        with self._lock:
            outcomes, self._outbox = self._outbox, []
            generation = self._generation
        delivered = 0
        for outcome in outcomes:
            if time.perf_counter() - started > _DELIVERY_SLICE_SECONDS:
                break
            delivered += 1
            self._deliver_one(outcome, generation)
        rest = outcomes[delivered:]
        with self._lock:
            count = len(self._pending)
            if rest:
                self._outbox[:0] = rest
                QMetaObject.invokeMethod(self, "_deliver_outcomes", Qt.ConnectionType.QueuedConnection)
        if any(outcome.finished_task is not None for outcome in outcomes[:delivered]):
            self.loading_changed.emit(count)

    def _deliver_one(self, outcome: _Outcome, generation: int) -> None:
        if outcome.generation != generation:
            return
        if outcome.image is not None:
            self.thumbnail_ready.emit(outcome.url, outcome.image)
        elif outcome.reason is not None:
            self.thumbnail_failed.emit(outcome.url, outcome.reason)

    # Disk and network threads

    def _run_thread(self, stage: _Stage) -> None:
        while (task := self._pop_task(stage)) is not None:
            try:
                if stage is _Stage.DISK:
                    self._look_up_disk(task)
                else:
                    self._run_network_task(task)
            except Exception:
                logger.exception("Thumbnail task for %s failed", task.url)
                self._finish(task, reason="internal error")

    def _look_up_disk(self, task: _Task) -> None:
        disk = self._open_disk()
        stored = disk.get_validators(task.url) if disk is not None else None
        if disk is not None and stored is not None:
            if self._load_from_disk(task, disk, stored):
                return
        self._move_to_network(task)

    def _move_to_network(self, task: _Task) -> None:
        with self._lock:
            if self._in_flight.get(task.url) is task:
                del self._in_flight[task.url]
            if self._closed or self._pending.get(task.url) is not task:
                return  # cancelled while the disk was read
            task.started = False
            task.stage = _Stage.NETWORK
            self._push(task)

    def _load_from_disk(self, task: _Task, disk: ThumbnailDiskCache, stored: StoredValidators) -> bool:
        failure = disk.get_failure(task.url, stored.validator)
        if failure is not None:
            self._finish(task, reason=failure)
            self._schedule_revalidation(task)
            return True
        cached = disk.get(task.url, stored.validator, self.edge)
        if cached is None:
            return False
        image = _to_qimage(cached.width, cached.height, cached.rgba)
        self._memory.put(task.url, image)
        self._finish(task, image=image)
        self._schedule_revalidation(task)
        return True

    def _schedule_revalidation(self, load: _Task) -> None:
        with self._lock:
            if self._closed or load.url in self._revalidation_scheduled:
                return
            if load.generation != self._generation:
                return
            self._revalidation_scheduled.add(load.url)
            self._push(self._new_task(load.url, _Kind.REVALIDATE, 0))

    def _run_network_task(self, task: _Task) -> None:
        disk = self._open_disk()
        # A load downloads unconditionally, because the disk cache had no usable file for it.
        conditions: Validators | None = None
        known: str | None = None
        if task.kind is _Kind.REVALIDATE:
            stored = disk.get_validators(task.url) if disk is not None else None
            if stored is None:
                self._finish(task)
                return
            conditions = Validators(stored.etag, stored.last_modified)
            known = stored.validator
        try:
            remote = self._fetch_and_decode(task, conditions, known)
        except CancelledError:
            self._finish(task, reason="cancelled")
            return
        except WorkerLost as error:
            self._record_lost_job(task, disk, error)
            return
        except DecodeError as error:
            logger.warning("Worker job for %s failed: %s", task.url, error.reason)
            self._finish(task, reason=error.reason)
            return
        self._handle_remote(task, disk, remote)

    def _fetch_and_decode(self, task: _Task, conditions: Validators | None, known: str | None) -> RemoteThumbnail:
        priority = task.priority + (_VISIBLE_BOOST if task.url in self._visible else 0)
        if task.kind is _Kind.REVALIDATE:
            # The cached thumbnail is already on screen, so any load comes first.
            priority -= 2 * _VISIBLE_BOOST
        future = self._pool.submit_call(
            fetch_and_decode, task.url, conditions, known, self.edge, self._limits, self._max_pixels,
            priority=priority, prelude_timeout=self._limits.worst_case_seconds(),
        )
        result: RemoteThumbnail = future.result()
        return result

    def _record_lost_job(self, task: _Task, disk: ThumbnailDiskCache | None, error: WorkerLost) -> None:
        facts = error.progress
        # A decode that timed out or crashed is remembered like any failed decode,
        # so the next open does not spend the time limit on the same file again.
        if disk is not None and isinstance(facts, ResponseFacts) and facts.validator is not None:
            self._store_failure(disk, task.url, facts, facts.validator, error.reason)
        self._finish(task, reason=error.reason)

    def _handle_remote(self, task: _Task, disk: ThumbnailDiskCache | None, remote: RemoteThumbnail) -> None:
        if remote.fetch_error is not None:
            self._handle_fetch_error(task, remote.fetch_error)
            return
        if task.kind is _Kind.LOAD:
            with self._lock:
                self._revalidation_scheduled.add(task.url)
        if remote.unchanged or remote.response is None:
            self._finish(task)
            return
        facts, validator = remote.response, remote.response.validator or ""
        if task.kind is _Kind.REVALIDATE:
            logger.info("Image at %s changed on the server; decoded the new version", task.url)
        if remote.decode_error is not None:
            if disk is not None:
                self._store_failure(disk, task.url, facts, validator, remote.decode_error)
            self._finish(task, reason=remote.decode_error)
            return
        decoded = remote.thumbnail
        assert decoded is not None  # RemoteThumbnail sets one outcome
        if disk is not None:
            self._store_thumbnail(disk, task.url, facts, validator, decoded.width, decoded.height, decoded.rgba)
        image = _to_qimage(decoded.width, decoded.height, decoded.rgba)
        self._memory.put(task.url, image)
        self._finish(task, image=image)

    def _handle_fetch_error(self, task: _Task, reason: str) -> None:
        if task.kind is _Kind.REVALIDATE:
            # The cached thumbnail stays on screen; the next open tries again.
            logger.info("Revalidation of %s failed: %s", task.url, reason)
            self._finish(task)
            return
        logger.info("Download of %s failed: %s", task.url, reason)
        self._finish(task, reason=reason)

    def _store_thumbnail(
        self, disk: ThumbnailDiskCache, url: str, result: ResponseFacts, validator: str,
        width: int, height: int, rgba: bytes,
    ) -> None:
        try:
            disk.put(url, validator, self.edge, width, height, rgba)
            disk.put_validators(url, StoredValidators(result.etag, result.last_modified, validator))
            disk.remove_other_versions(url, validator)
        except (OSError, ValueError) as error:
            logger.warning("Cannot store the thumbnail of %s in the disk cache: %s", url, error)

    def _store_failure(
        self, disk: ThumbnailDiskCache, url: str, result: ResponseFacts, validator: str, reason: str
    ) -> None:
        try:
            disk.put_failure(url, validator, reason)
            disk.put_validators(url, StoredValidators(result.etag, result.last_modified, validator))
            disk.remove_other_versions(url, validator)
        except OSError as error:
            logger.warning("Cannot record the decode failure of %s: %s", url, error)

    def _finish(self, task: _Task, image: QImage | None = None, reason: str | None = None) -> None:
        with self._lock:
            if self._in_flight.get(task.url) is task:
                del self._in_flight[task.url]
            finished_load = task.kind is _Kind.LOAD and self._pending.get(task.url) is task
            if finished_load:
                del self._pending[task.url]
            if self._closed or (image is None and reason is None and not finished_load):
                return
            outcome = _Outcome(task.url, task.generation, image=image, reason=reason)
            outcome.finished_task = task if finished_load else None
            self._outbox_append(outcome)

    def _open_disk(self) -> ThumbnailDiskCache | None:
        with self._disk_lock:
            if self._disk_opened or self._cache_dir is None:
                return self._disk
            self._disk_opened = True
            try:
                self._disk = ThumbnailDiskCache(self._cache_dir)
            except Exception as error:  # noqa: BLE001 - sqlite3.Error and OSError both end here
                logger.warning(
                    "Cannot open the thumbnail cache in %s, so thumbnails are kept in memory only: %s",
                    self._cache_dir, error,
                )
            return self._disk


class _ImageLru:
    """Thread-safe least-recently-used map of URL to QImage, bounded by total image bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, url: str) -> QImage | None:
        with self._lock:
            image = self._images.get(url)
            if image is not None:
                self._images.move_to_end(url)
            return image

    def put(self, url: str, image: QImage) -> None:
        with self._lock:
            old = self._images.pop(url, None)
            if old is not None:
                self._bytes -= old.sizeInBytes()
            self._images[url] = image
            self._bytes += image.sizeInBytes()
            while self._bytes > self.max_bytes and len(self._images) > 1:
                _, evicted = self._images.popitem(last=False)
                self._bytes -= evicted.sizeInBytes()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._bytes


def _to_qimage(width: int, height: int, rgba: bytes) -> QImage:
    # copy() detaches the QImage from the Python buffer, so it owns its pixels.
    return QImage(rgba, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()

