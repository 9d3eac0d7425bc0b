"""Runs saves off the GUI thread and coalesces rapid edits for *Save as I go*."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gallery_editor.domain.models import Product, TargetImage
from gallery_editor.save import SaveEngine, SaveProgress, SaveReport, SaveRequest

logger = logging.getLogger(__name__)

DEFAULT_QUIET_PERIOD_MS = 500


@dataclass(frozen=True)
class _QueuedEdit:
    """The latest state of one product waiting for the quiet period to end."""

    product_id: str
    base: Product
    target: tuple[TargetImage, ...]
    generation: int


class SaveController(QObject):
    """Runs `SaveEngine.save` in a worker thread and reports through signals.

    Signals are emitted from the worker thread; Qt queues them to receivers that live
    in the GUI thread. ``failed`` is emitted only when the engine raised an unexpected
    exception: API errors arrive as a report through ``finished``.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)
    # Internal: hands a finished worker back to the GUI thread.
    _worker_done = Signal(object, object)

    def __init__(
        self,
        engine: SaveEngine,
        base_url: str,
        parent: QObject | None = None,
        *,
        quiet_period_ms: int = DEFAULT_QUIET_PERIOD_MS,
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._base_url = base_url
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._running_request: SaveRequest | None = None
        self._queued: dict[str, _QueuedEdit] = {}
        self._generation = 0
        # Server state after the last complete save of each product, with its generation.
        self._saved: dict[str, tuple[int, Product]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(quiet_period_ms)
        self._timer.timeout.connect(self._flush_queue)
        self._worker_done.connect(self._on_worker_done)

    # -- explicit saves ----------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, request: SaveRequest) -> None:
        """Start saving `request` in a worker thread; raises RuntimeError while a save runs."""
        if self.is_running():
            raise RuntimeError(
                "A save is already running: wait for the finished signal or cancel it first."
            )
        self._cancel = threading.Event()
        self._running_request = request
        thread = threading.Thread(
            target=self._run, args=(request, self._cancel), name="save-worker", daemon=True
        )
        self._thread = thread
        logger.info("Starting a save of product %s", request.product_id)
        thread.start()

    def cancel(self) -> None:
        """Send no new requests; requests in flight finish and the rest stay pending."""
        self._queued.clear()
        self._timer.stop()
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread ends; for shutdown and tests. Return whether it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- Save as I go --------------------------------------------------------------------------

    def queue_edit(self, product_id: str, base: Product, target: Sequence[TargetImage]) -> None:
        """Save the latest `target` of a product once edits pause for the quiet period."""
        self._generation += 1
        self._queued[product_id] = _QueuedEdit(product_id, base, tuple(target), self._generation)
        self._timer.start()

    def pending_edits(self) -> int:
        """Return the number of products with edits waiting to be saved."""
        return len(self._queued)

    @Slot()
    def _flush_queue(self) -> None:
        if self.is_running() or not self._queued:
            return
        product_id = next(iter(self._queued))
        edit = self._queued.pop(product_id)
        self.start(
            SaveRequest(
                base_url=self._base_url,
                product_id=product_id,
                base=self._base_for(edit),
                target=edit.target,
            )
        )

    def _base_for(self, edit: _QueuedEdit) -> Product:
        # A save that finished after this edit was queued saw a newer server state than the
        # edit's base. Merging against the stale base would report our own save as conflicts.
        saved = self._saved.get(edit.product_id)
        if saved is not None and saved[0] > edit.generation:
            return saved[1]
        return edit.base

    # -- worker --------------------------------------------------------------------------------

    def _run(self, request: SaveRequest, cancel: threading.Event) -> None:
        try:
            report = self._engine.save(request, progress=self._emit_progress, cancel=cancel)
        except Exception as error:  # noqa: BLE001 - reported to the GUI instead of lost in a thread
            logger.exception("The save of product %s failed unexpectedly", request.product_id)
            self._worker_done.emit(request, f"The save failed unexpectedly: {error}")
            return
        self._worker_done.emit(request, report)

    def _emit_progress(self, progress: SaveProgress) -> None:
        self.progress.emit(progress.done, progress.total, progress.message)

    @Slot(object, object)
    def _on_worker_done(self, request: SaveRequest, result: object) -> None:
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self._running_request = None
        if isinstance(result, SaveReport):
            if result.status == "saved" and result.snapshot is not None:
                self._generation += 1
                self._saved[request.product_id] = (self._generation, result.snapshot)
            self.finished.emit(result)
        else:
            self.failed.emit(str(result))
        if self._queued and not self._timer.isActive():
            self._flush_queue()
