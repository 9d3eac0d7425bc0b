"""Journal-backed editing sessions: every undo-stack change is written off the GUI thread."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from gallery_editor.api.errors import ApiError
from gallery_editor.domain.gallery import (
    Edit,
    Gallery,
    GalleryEvent,
    InvalidEdit,
    MoveEdit,
    edit_from_json,
    edit_to_json,
)
from gallery_editor.domain.models import Product
from gallery_editor.journal import (
    DEFAULT_BUSY_TIMEOUT,
    Journal,
    JournalError,
    JournalWriter,
    Session,
    SessionSummary,
)
from gallery_editor.ui.commands import EditCommand

logger = logging.getLogger(__name__)

MACRO_TYPE = "macro"

CachedProduct = tuple[Product, datetime]
ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[str], None]

# Errors that mean a stored session or history entry is malformed, as opposed to a bug.
_DAMAGED_DATA_ERRORS = (InvalidEdit, ApiError, ValueError, KeyError, TypeError, AttributeError)


class UnsupportedCommandError(ValueError):
    """An undo command that is neither an ``EditCommand`` nor a macro of them."""


# -- encoding the undo history ---------------------------------------------------------------


def encode_command(command: QUndoCommand) -> dict[str, Any]:
    """Encode an undo command for the journal: its edit, or a macro with its children in order."""
    if isinstance(command, EditCommand):
        return edit_to_json(command.edit)
    count = command.childCount()
    if count == 0:
        raise UnsupportedCommandError(
            f"The undo command {command.text()!r} ({type(command).__name__}) is neither an "
            "EditCommand nor a macro of EditCommands. The undo history cannot be stored, so "
            "only the working state is journaled."
        )
    children = [encode_command(command.child(index)) for index in range(count)]
    return {"type": MACRO_TYPE, "text": command.text(), "children": children}


def encode_history(stack: QUndoStack) -> list[dict[str, Any]]:
    """Encode every command on the stack, the undone ones after the index included."""
    return [encode_command(stack.command(index)) for index in range(stack.count())]


def push_history_entry(stack: QUndoStack, gallery: Gallery, entry: object) -> None:
    """Push the command that ``encode_command`` encoded, which applies it to ``gallery``.

    A macro is rebuilt with ``beginMacro``/``endMacro``, because PySide6 does not hand a
    command built with a parent command over to that parent: its Python wrapper is
    freed and the parent is left with a dangling pointer. Raises ``InvalidEdit`` when the
    entry is malformed, so check entries with ``replay_history`` first.
    """
    if not isinstance(entry, dict):
        raise InvalidEdit(f"A saved history entry is not an object: {entry!r:.80}")
    if entry.get("type") != MACRO_TYPE:
        stack.push(EditCommand(gallery, edit_from_json(entry)))
        return
    children = _macro_children(entry)
    stack.beginMacro(str(entry.get("text", "")))
    try:
        for child in children:
            push_history_entry(stack, gallery, child)
    finally:
        stack.endMacro()


def history_edits(entry: object) -> list[Edit]:
    """Return the edits one history entry applies, in order.

    Raises ``InvalidEdit`` if the entry is malformed.
    """
    if not isinstance(entry, dict):
        raise InvalidEdit(f"A saved history entry is not an object: {entry!r:.80}")
    if entry.get("type") == MACRO_TYPE:
        return [edit for child in _macro_children(entry) for edit in history_edits(child)]
    edit = edit_from_json(entry)
    if isinstance(edit, MoveEdit) and sorted(edit.old_order) != sorted(edit.new_order):
        raise InvalidEdit(f"The saved move {edit.text!r} changes the set of images")
    return [edit]


def replay_history(
    snapshot: Product, history: list[dict[str, Any]], history_index: int
) -> dict[str, Any]:
    """Check a history on a scratch gallery and return the state it gives at ``history_index``.

    Every entry is applied, then everything is undone back to the snapshot and redone up
    to the index, so both directions are known to work before a real stack is built.
    Raises ``InvalidEdit`` (or ``KeyError``/``TypeError`` for malformed data) otherwise.
    """
    if not 0 <= history_index <= len(history):
        raise InvalidEdit(f"History index {history_index} is outside 0..{len(history)}")
    entries = [history_edits(entry) for entry in history]
    scratch = Gallery(snapshot)
    server_state = scratch.state_to_json()
    for edits in entries:
        for edit in edits:
            scratch.apply(edit)
    for edits in reversed(entries):
        for edit in reversed(edits):
            scratch.revert(edit)
    if scratch.state_to_json() != server_state:
        raise InvalidEdit("Undoing the whole saved history does not give the server state")
    for edits in entries[:history_index]:
        for edit in edits:
            scratch.apply(edit)
    return scratch.state_to_json()


def _macro_children(data: dict[str, Any]) -> list[object]:
    children = data.get("children")
    if not isinstance(children, list) or not children:
        raise InvalidEdit(f"The saved macro {data.get('text')!r} has no list of children")
    return children


def _same_working_state(rebuilt: dict[str, Any], stored: dict[str, Any]) -> bool:
    # The user-move counts only break ties when listing moved images. They differ after a
    # save moved the history's start (see mark_saved), so only order and fields must match.
    same_order = rebuilt.get("order") == stored.get("order")
    return same_order and rebuilt.get("fields") == stored.get("fields")


# -- bookkeeping records -----------------------------------------------------------------------


@dataclass(eq=False)
class _TrackedSession:
    """A product whose undo stack the keeper follows and writes to the journal."""

    gallery: Gallery
    stack: QUndoStack
    product_name: str
    # The server state the journaled history starts from.
    snapshot: Product
    # gallery.snapshot when last looked at. A new object means the window swapped it.
    seen_gallery_snapshot: Product
    # Commands before the journaled history, and the encoding of the last of them, so a
    # later change can tell whether they are still the same commands.
    base_count: int = 0
    base_marker: dict[str, Any] | None = None
    # Changed since the last write was captured.
    changed: bool = False
    # The last write failed, so the next change retries it.
    failed: bool = False
    # An unsupported command was already logged, so later captures stay quiet.
    warned_unsupported: bool = False
    disconnects: list[Callable[[], None]] = field(default_factory=list)


@dataclass(eq=False)
class _Write:
    """A call queued on the journal writer, handled on the GUI thread when it completes."""

    action: str
    future: Future[Any]
    product_id: str | None = None
    # The undo-stack index a captured session write stores, reported by edit_persisted.
    stack_index: int | None = None
    on_result: ResultCallback | None = None
    on_error: ErrorCallback | None = None


# -- the keeper ----------------------------------------------------------------------------------


class SessionKeeper(QObject):
    """Writes each tracked product's working state and undo history to the change journal.

    Changes are captured on the GUI thread one event-loop turn after they happen (so an
    open undo macro is complete) and written by a ``JournalWriter`` thread. The GUI
    thread waits for a disk sync only in ``flush``, ``close`` and a ``restore`` of a
    product whose write is still running. While a write of a product is running, later changes of
    that product are merged into one following write. ``edit_persisted`` reports each
    committed write of a tracked product with the undo-stack index whose state it
    stored (the journal's own history index differs after ``mark_saved``).
    ``persist_failed`` reports every journal failure with a readable message. The
    constructor raises ``JournalError`` when the journal cannot be opened.
    """

    edit_persisted = Signal(str, int)
    persist_failed = Signal(str)
    # Internal: a writer future completed. Queued to the GUI thread.
    _write_finished = Signal(object)

    def __init__(
        self,
        data_dir: Path,
        base_url: str,
        parent: QObject | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        super().__init__(parent)
        if not base_url:
            raise ValueError("base_url must be the API base URL the sessions belong to, got ''")
        self.base_url = base_url
        self._writer = JournalWriter(Path(data_dir), busy_timeout=busy_timeout)
        try:
            # Synchronous reads (pending, restore) use their own connection. In WAL mode
            # they do not wait for the writer's transactions.
            self._reader = Journal(Path(data_dir), busy_timeout=busy_timeout)
        except BaseException:
            self._writer.close()
            raise
        self._sessions: dict[str, _TrackedSession] = {}
        self._writes: set[_Write] = set()
        self._closed = False
        self._capture_timer = QTimer(self)
        self._capture_timer.setSingleShot(True)
        self._capture_timer.setInterval(0)
        self._capture_timer.timeout.connect(self._capture_changed)
        self._write_finished.connect(self._on_write_finished, Qt.ConnectionType.QueuedConnection)

    # -- public interface ------------------------------------------------------------------

    @property
    def recovered_from(self) -> Path | None:
        """The path a damaged journal was moved to while opening, or None. Show it to the user."""
        return self._writer.recovered_from

    @property
    def journal_path(self) -> Path:
        return self._writer.path

    def track(self, gallery: Gallery, stack: QUndoStack, product_name: str) -> None:
        """Journal every later change of ``stack`` and ``gallery`` until ``untrack``.

        Tracking a product again replaces the earlier gallery and stack. Nothing is written
        for a fresh gallery with an empty stack, so opening a product never discards a
        session that ``restore`` has not read yet.
        """
        self._require_open("track a product")
        product_id = gallery.product_id
        if product_id in self._sessions:
            self.untrack(product_id)
        session = _TrackedSession(
            gallery=gallery,
            stack=stack,
            product_name=product_name,
            snapshot=gallery.snapshot,
            seen_gallery_snapshot=gallery.snapshot,
        )
        self._sessions[product_id] = session
        self._connect(session)
        if stack.count() > 0 or gallery.is_modified():
            self._mark_changed(session)

    def untrack(self, product_id: str) -> None:
        """Write any change not yet captured, then stop following the product."""
        session = self._sessions.get(product_id)
        if session is None:
            return
        if session.changed:
            self._capture(session)
        self._forget(session)

    def is_tracked(self, product_id: str) -> bool:
        return product_id in self._sessions

    def is_persisted(self, product_id: str) -> bool:
        """Return False while a change of the product is not yet committed to the journal."""
        session = self._sessions.get(product_id)
        if session is not None and (session.changed or session.failed):
            return False
        return not any(write.product_id == product_id for write in self._writes)

    def restore(
        self,
        product_id: str,
        snapshot_fallback: Product | None = None,
        stack_parent: QObject | None = None,
    ) -> tuple[Gallery, QUndoStack] | None:
        """Rebuild the journaled gallery and undo stack of a product, or return None.

        The undo stack gets every saved command (pushing applies it) and then the saved
        index. If the history is damaged or does not reproduce the saved state, the gallery
        is rebuilt from the saved state alone with an empty stack. If even the state does
        not fit the saved snapshot, it is tried on ``snapshot_fallback`` (the copy just
        fetched from the server). Journal failures are reported through
        ``persist_failed`` and give None. Call it before ``track`` for a product that is
        not open. The returned gallery is based on the saved snapshot, so compare that
        snapshot with the server's current copy before saving.
        """
        self._require_open("restore a session")
        session = self._load_session(product_id)
        if session is None:
            return None
        rebuilt = self._rebuild_with_history(session, stack_parent)
        if rebuilt is not None:
            return rebuilt
        return self._rebuild_from_state(session, snapshot_fallback, stack_parent)

    def pending(self) -> list[SessionSummary]:
        """List the journaled sessions of this base URL, newest change first.

        Journal failures are reported through ``persist_failed`` and give an empty list.
        """
        self._require_open("list pending sessions")
        try:
            return self._reader.pending_sessions(self.base_url)
        except JournalError as error:
            self._report_failure("list the products with unsaved changes", error)
            return []

    def discard(self, product_id: str) -> Future[None]:
        """Delete the journaled session of a product (the product stays tracked if it is)."""
        self._require_open("discard a session")
        session = self._sessions.get(product_id)
        if session is not None:
            session.changed = False
            session.failed = False
        future = self._writer.submit("discard_session", self.base_url, product_id)
        self._watch(_Write("discard_session", future, product_id))
        return future

    def mark_saved(self, product_id: str, new_snapshot: Product) -> None:
        """Record a completed save: the session now starts from ``new_snapshot``.

        For a tracked product the journaled history restarts at the current stack index
        (older commands stay on the stack but are not journaled), and the session is
        discarded when nothing differs from ``new_snapshot`` any more. For an untracked
        product the stored state is moved onto ``new_snapshot`` with an empty history.
        """
        self._require_open("record a save")
        if new_snapshot.id != product_id:
            raise ValueError(
                f"mark_saved got the snapshot of product {new_snapshot.id!r} for product "
                f"{product_id!r}. Pass the snapshot of the product that was saved."
            )
        session = self._sessions.get(product_id)
        if session is None:
            future = self._writer.submit(_move_session_to_snapshot, self.base_url, new_snapshot)
            self._watch(_Write("mark_saved", future, product_id))
            return
        self._rebase(session, new_snapshot)
        session.changed = False
        self._capture(session)

    def cache_product(self, product: Product) -> Future[None]:
        """Store the offline copy of a product fetched just now."""
        self._require_open("cache a product")
        future = self._writer.submit("cache_product", self.base_url, product)
        self._watch(_Write("cache_product", future))
        return future

    def cached_product(
        self,
        product_id: str,
        on_result: Callable[[CachedProduct | None], None] | None = None,
        on_error: ErrorCallback | None = None,
    ) -> Future[CachedProduct | None]:
        """Read the offline copy of a product and when it was fetched, off the GUI thread.

        ``on_result`` gets ``(product, fetched_at)`` or None on the GUI thread.
        ``on_error`` gets a readable message. Without it the error goes to
        ``persist_failed``.
        """
        self._require_open("read a cached product")
        future = self._writer.submit("cached_product", self.base_url, product_id)
        self._watch(_Write("cached_product", future, on_result=on_result, on_error=on_error))
        return future

    def cached_products(
        self,
        on_result: Callable[[list[CachedProduct]], None] | None = None,
        on_error: ErrorCallback | None = None,
    ) -> Future[list[CachedProduct]]:
        """Read every offline copy of this base URL, sorted by name, off the GUI thread."""
        self._require_open("read the cached products")
        future = self._writer.submit("cached_products", self.base_url)
        self._watch(_Write("cached_products", future, on_result=on_result, on_error=on_error))
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Write every pending change now and wait until the journal has committed it.

        Blocks the calling thread; meant for shutdown and tests. Raises ``TimeoutError``
        after ``timeout`` seconds.
        """
        if self._closed:
            return
        self._capture_timer.stop()
        for session in list(self._sessions.values()):
            if session.changed:
                self._capture(session)
        self._writer.flush(timeout)
        for write in list(self._writes):
            if write.future.done():
                self._on_write_finished(write)

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop following every product and close the journal.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self.flush(timeout)
        for session in list(self._sessions.values()):
            self._forget(session)
        self._closed = True
        self._writer.close(timeout)
        self._reader.close()
        logger.debug("Session keeper closed for %s", self.base_url)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- following a stack ---------------------------------------------------------------------

    def _connect(self, session: _TrackedSession) -> None:
        stack = session.stack

        def on_change(*_args: object) -> None:
            self._mark_changed(session)

        def on_gallery_event(_event: GalleryEvent) -> None:
            self._mark_changed(session)

        def on_destroyed(*_args: object) -> None:
            # The stack is gone, so nothing more can be read from it.
            session.changed = False
            self._forget(session)

        stack.indexChanged.connect(on_change)
        stack.cleanChanged.connect(on_change)
        stack.destroyed.connect(on_destroyed)
        unsubscribe = session.gallery.subscribe(on_gallery_event)
        session.disconnects = [
            lambda: stack.indexChanged.disconnect(on_change),
            lambda: stack.cleanChanged.disconnect(on_change),
            lambda: stack.destroyed.disconnect(on_destroyed),
            unsubscribe,
        ]

    def _forget(self, session: _TrackedSession) -> None:
        product_id = session.gallery.product_id
        if self._sessions.get(product_id) is session:
            del self._sessions[product_id]
        disconnects, session.disconnects = session.disconnects, []
        for disconnect in disconnects:
            try:
                disconnect()
            except (RuntimeError, ValueError):
                # The stack was already deleted or the listener already removed.
                pass

    def _mark_changed(self, session: _TrackedSession) -> None:
        if self._closed or self._sessions.get(session.gallery.product_id) is not session:
            return
        session.changed = True
        if not self._capture_timer.isActive():
            self._capture_timer.start()

    def _capture_changed(self) -> None:
        for session in list(self._sessions.values()):
            if session.changed and not self._session_write_running(session.gallery.product_id):
                self._capture(session)

    def _session_write_running(self, product_id: str) -> bool:
        return any(
            write.product_id == product_id and write.stack_index is not None
            for write in self._writes
        )

    # -- capturing and writing a session ---------------------------------------------------------

    def _capture(self, session: _TrackedSession) -> None:
        """Copy the session's state and history now and queue its write."""
        # NOTE: the whole history is rewritten on every write, and the writer encodes it as
        # JSON while holding the GIL. For 500 moves of 200 images (2.3 MB) that took about
        # 100 ms on the development machine, a pause the GUI thread also feels.
        session.changed = False
        gallery = session.gallery
        if gallery.snapshot is not session.seen_gallery_snapshot:
            # The window swapped in a newer server snapshot (a reload or a save), which
            # the older commands were not made against.
            self._rebase(session, gallery.snapshot)
        history, history_index = self._journaled_history(session)
        state = gallery.state_to_json()
        modified, change_count = self._changes(session, state)
        product_id = gallery.product_id

        if not modified and history_index == 0:
            action = "discard_session"
            future = self._writer.submit(action, self.base_url, product_id)
        else:
            action = "save_session"
            future = self._writer.submit(
                action,
                self.base_url,
                product_id,
                session.snapshot,
                state,
                history,
                history_index,
                session.product_name,
                change_count=change_count,
            )
        self._watch(_Write(action, future, product_id, stack_index=session.stack.index()))

    def _journaled_history(self, session: _TrackedSession) -> tuple[list[dict[str, Any]], int]:
        """Return the commands made since the session's snapshot and the index among them.

        Gives an empty history (the state alone is journaled) when the stack contains a
        command that cannot be encoded, or when the user undid past the snapshot's start.
        """
        stack = session.stack
        try:
            encoded = encode_history(stack)
        except UnsupportedCommandError as error:
            if not session.warned_unsupported:
                session.warned_unsupported = True
                logger.warning("Journaling product %s without undo history: %s",
                               session.gallery.product_id, error)
            return [], 0
        start = session.base_count
        index = stack.index()
        if start > 0:
            base_intact = len(encoded) >= start and encoded[start - 1] == session.base_marker
            if not base_intact or index < start:
                return [], 0
        return encoded[start:], index - start

    def _changes(self, session: _TrackedSession, state: dict[str, Any]) -> tuple[bool, int]:
        gallery = session.gallery
        if session.snapshot is gallery.snapshot:
            return gallery.is_modified(), len(gallery.changed_image_ids())
        try:
            measured = Gallery.from_state(session.snapshot, state)
        except _DAMAGED_DATA_ERRORS:
            # mark_saved got a snapshot with other images than the gallery's.
            return gallery.is_modified(), len(gallery.changed_image_ids())
        return measured.is_modified(), len(measured.changed_image_ids())

    def _rebase(self, session: _TrackedSession, snapshot: Product) -> None:
        stack = session.stack
        index = stack.index()
        session.snapshot = snapshot
        session.seen_gallery_snapshot = session.gallery.snapshot
        session.base_count = index
        session.base_marker = None
        if index > 0:
            try:
                session.base_marker = encode_command(stack.command(index - 1))
            except UnsupportedCommandError:
                # No marker matches any encoding, so the history stays state-only.
                session.base_marker = {"type": "unsupported"}

    # -- completed writes ----------------------------------------------------------------------

    def _watch(self, write: _Write) -> None:
        self._writes.add(write)
        write.future.add_done_callback(lambda _future: self._post_finished(write))

    def _post_finished(self, write: _Write) -> None:
        # Runs on the writer thread, and the queued signal moves the write to the GUI thread.
        try:
            self._write_finished.emit(write)
        except RuntimeError:
            logger.debug("Journal %s finished after its keeper was deleted", write.action)

    def _on_write_finished(self, write: _Write) -> None:
        if write not in self._writes:
            return  # flush() already handled it
        self._writes.discard(write)
        error = write.future.exception()
        if error is not None:
            self._on_write_failed(write, error)
        else:
            self._on_write_succeeded(write)
        session = self._sessions.get(write.product_id or "")
        if session is not None and session.changed and not self._capture_timer.isActive():
            self._capture_timer.start()

    def _on_write_succeeded(self, write: _Write) -> None:
        session = self._sessions.get(write.product_id or "")
        if session is not None and write.stack_index is not None:
            session.failed = False
        if write.stack_index is not None and write.product_id is not None:
            self.edit_persisted.emit(write.product_id, write.stack_index)
        if write.on_result is not None:
            write.on_result(write.future.result())

    def _on_write_failed(self, write: _Write, error: BaseException) -> None:
        session = self._sessions.get(write.product_id or "")
        if session is not None and write.stack_index is not None:
            session.failed = True
        message = self._report_failure(write.action, error, notify=write.on_error is None)
        if write.on_error is not None:
            write.on_error(message)

    def _report_failure(self, action: str, error: BaseException, *, notify: bool = True) -> str:
        if isinstance(error, JournalError):
            message = error.message
            logger.warning("Journal call %s failed: %s", action, message)
        else:
            message = (
                f"The change journal call {action} failed: {error}. The edits are still in "
                "this window, so save them to the server before closing it."
            )
            logger.error("Journal call %s failed", action, exc_info=error)
        if notify:
            self.persist_failed.emit(message)
        return message

    # -- restoring -----------------------------------------------------------------------------

    def _load_session(self, product_id: str) -> Session | None:
        running = [write.future for write in self._writes if write.product_id == product_id]
        if running:
            # Reopening right after closing: read what the writer is still committing.
            concurrent.futures.wait(running)
        try:
            return self._reader.load_session(self.base_url, product_id)
        except JournalError as error:
            self._report_failure(f"load the session of product {product_id}", error)
            return None
        except _DAMAGED_DATA_ERRORS as error:
            logger.warning("The journaled session of product %s is damaged and was not "
                           "restored: %s", product_id, error)
            return None

    def _rebuild_with_history(
        self, session: Session, stack_parent: QObject | None
    ) -> tuple[Gallery, QUndoStack] | None:
        product_id = session.product_id
        try:
            replayed = replay_history(session.snapshot, session.history, session.history_index)
        except _DAMAGED_DATA_ERRORS as error:
            logger.warning("The undo history of product %s could not be replayed, so it is "
                           "restored without undo history: %s", product_id, error)
            return None
        if not _same_working_state(replayed, session.state):
            logger.warning("The undo history of product %s does not reproduce its saved "
                           "state, so it is restored without undo history", product_id)
            return None

        gallery = Gallery(session.snapshot)
        stack = QUndoStack(stack_parent)
        for entry in session.history:
            push_history_entry(stack, gallery, entry)
        stack.setIndex(session.history_index)
        if not _same_working_state(gallery.state_to_json(), session.state):
            # replay_history checked the same edits, so this is not expected to happen.
            logger.warning("Rebuilding the undo stack of product %s gave another state, so it "
                           "is restored without undo history", product_id)
            stack.clear()
            stack.deleteLater()
            return None
        logger.info("Restored product %s with %d undo steps at step %d",
                    product_id, len(session.history), session.history_index)
        return gallery, stack

    def _rebuild_from_state(
        self, session: Session, snapshot_fallback: Product | None, stack_parent: QObject | None
    ) -> tuple[Gallery, QUndoStack] | None:
        product_id = session.product_id
        snapshots = [session.snapshot]
        if snapshot_fallback is not None:
            snapshots.append(snapshot_fallback)
        for snapshot in snapshots:
            try:
                gallery = Gallery.from_state(snapshot, session.state)
            except _DAMAGED_DATA_ERRORS as error:
                logger.warning("The saved state of product %s does not fit snapshot %s: %s",
                               product_id, snapshot.modified_on, error)
                continue
            return gallery, QUndoStack(stack_parent)
        logger.warning("The journaled session of product %s could not be restored. It stays "
                       "in the journal until the product is edited again", product_id)
        return None

    def _require_open(self, action: str) -> None:
        if self._closed:
            raise RuntimeError(
                f"Cannot {action}: the session keeper for {self.base_url} is closed. "
                "Create a new SessionKeeper."
            )


def _move_session_to_snapshot(journal: Journal, base_url: str, snapshot: Product) -> None:
    """Put a stored session on a newer snapshot with an empty history, or drop it if unchanged."""
    stored = journal.load_session(base_url, snapshot.id)
    if stored is None:
        return
    gallery = Gallery.from_state(snapshot, stored.state)
    if not gallery.is_modified():
        journal.discard_session(base_url, snapshot.id)
        return
    journal.save_session(
        base_url,
        snapshot.id,
        snapshot,
        gallery.state_to_json(),
        [],
        0,
        stored.product_name,
        change_count=len(gallery.changed_image_ids()),
    )
