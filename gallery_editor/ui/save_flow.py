"""Window wiring of saving: progress, cancel, conflicts, rebasing after a save and *Save as I go*."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QProgressBar, QPushButton, QStyle, QTreeWidgetItem

from gallery_editor.domain.conflicts import Choice
from gallery_editor.domain.planner import plan_patches
from gallery_editor.save import SaveEngine, SaveReport, SaveRequest
from gallery_editor.ui.conflict_dialog import ConflictDialog
from gallery_editor.ui.review_dock import CHANGE_COLUMN, IMAGE_ID_ROLE
from gallery_editor.ui.save_controller import SaveController
from gallery_editor.ui.session_flow import rebase_gallery

if TYPE_CHECKING:
    from gallery_editor.ui.main_window import MainWindow, ProductSession

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
CONCURRENCY_KEY = "save/concurrency"
SAVE_AS_YOU_GO_KEY = "save/as_you_go"
KEY_REFUSED_TEXT = (
    "The server refused the API key, so saving stopped. Nothing more is sent until you "
    "save again. Check that KELVIQ_API_KEY holds a Server API key for {base_url}: "
    "production keys do not work on the sandbox environment, and sandbox keys do not "
    "work on production."
)
NOT_SAVED_PREFIX = "Not saved: "
# Statuses whose report carries the server state after the save, so the gallery moves onto it.
REBASE_STATUSES = ("saved", "partial", "failed", "cancelled")

SaveAllCallback = Callable[[bool], None]


def resolve_concurrency(given: int | None, settings: QSettings) -> int:
    """Return `--concurrency` when given (and remember it), else the remembered value, else 4."""
    if given is not None:
        settings.setValue(CONCURRENCY_KEY, given)
        return given
    try:
        stored = int(settings.value(CONCURRENCY_KEY, DEFAULT_CONCURRENCY))
    except (TypeError, ValueError):
        stored = DEFAULT_CONCURRENCY
    return stored if stored >= 1 else DEFAULT_CONCURRENCY


def planned_writes(report: SaveReport) -> dict[str, dict[str, object]]:
    """Return the field values the save planned to write, per image, from the report's merge."""
    if report.merge is None:
        return {}
    try:
        patches = plan_patches(report.merge.snapshot, report.merge.target)
    except ValueError as error:
        logger.warning("Cannot tell which values the save wrote: %s", error)
        return {}
    return {patch.image_id: dict(patch.body) for patch in patches}


class SaveFlow(QObject):
    """Saves the window's products through a `SaveController` and folds each report back in.

    After a report with the server state (saved, partial, failed or cancelled) the
    gallery moves onto that state with `rebase_gallery`. What the save wrote counts as
    the user's own write. Fields that only someone else changed are taken over and shown
    as "Updated on the server". Every change not saved yet stays pending. The undo stack
    is kept and marked clean when all its commands still apply to the new state. It is
    cleared when the save changed the working state under them (server updates, deleted
    images).
    """

    save_started = Signal(str)
    save_ended = Signal(object)

    def __init__(self, window: MainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self.concurrency = resolve_concurrency(window.context.concurrency, settings)
        journal = window.session_flow().journal
        self.engine = SaveEngine(window.context.client, concurrency=self.concurrency, journal=journal)
        self.controller = SaveController(self.engine, window.context.base_url, self)
        self.controller.progress.connect(self._on_progress)
        self.controller.finished.connect(self._on_finished)
        self.controller.failed.connect(self._on_crashed)
        self.last_report: SaveReport | None = None
        self.last_error: str | None = None
        self.conflict_dialog: ConflictDialog | None = None
        self.message_box: QMessageBox | None = None
        # Products whose save waits for the server to respond again or for a running save.
        self.waiting: list[str] = []
        self._running_product: str | None = None
        self._queued_product: str | None = None
        self._resolutions: dict[str, Mapping[tuple, Choice]] = {}
        self._save_all: tuple[list[str], SaveAllCallback, bool] | None = None
        self._rebasing = False
        self._build_actions()
        self._build_progress()

    # -- widgets and actions -----------------------------------------------------------------

    def _build_actions(self) -> None:
        window = self._window
        self.save_action = QAction("&Save", window)
        self.save_action.setIcon(window.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.save_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        shortcut = self.save_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.save_action.setToolTip(f"Save the changes to the server ({shortcut})")
        self.save_action.setStatusTip("Send the pending changes of this product to the server")
        self.save_action.triggered.connect(lambda: self.save())

        self.as_you_go_action = QAction("Save as I &go", window)
        self.as_you_go_action.setCheckable(True)
        self.as_you_go_action.setChecked(self._settings.value(SAVE_AS_YOU_GO_KEY, False, type=bool))
        self.as_you_go_action.setStatusTip("Save each change by itself shortly after you make it")
        self.as_you_go_action.toggled.connect(self._on_as_you_go_toggled)

    def _build_progress(self) -> None:
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("save_progress")
        self.progress_bar.setAccessibleName("Save progress")
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setObjectName("cancel_save")
        self.cancel_button.setToolTip("Send no further requests; unsent changes stay pending")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

    def update_actions(self) -> None:
        online = self._window.session_flow().monitor.is_online()
        has_session = self._window.current_session() is not None
        self.save_action.setEnabled(has_session and online and not self.is_running())
        if not online:
            self.save_action.setStatusTip("Saving waits until the server answers again")
        else:
            self.save_action.setStatusTip("Send the pending changes of this product to the server")

    # -- starting saves ---------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.controller.is_running()

    def save(self, product_id: str | None = None) -> str:
        """Save a product (default: the current one); returns ``started``, ``waiting`` or the reason it did not start."""
        product_id = product_id or self._window.current_product_id()
        session = self._window.session(product_id) if product_id else None
        if session is None:
            return "No product is open."
        if not self._window.session_flow().monitor.is_online():
            self._wait_for(product_id)
            self._window.show_status("Offline: the save starts when the server answers again.")
            return "waiting"
        if self.is_running():
            self._wait_for(product_id)
            self._window.show_status("A save is running; this one starts when it ends.")
            return "waiting"
        self._start(session)
        return "started"

    def save_all(self, product_ids: Sequence[str], on_done: SaveAllCallback) -> None:
        """Save the products one after another, then call `on_done(all_saved)`."""
        remaining = [product_id for product_id in product_ids if self._window.session(product_id)]
        self._save_all = (remaining, on_done, True)
        self._next_of_save_all()

    def _next_of_save_all(self) -> None:
        if self._save_all is None:
            return
        remaining, on_done, ok = self._save_all
        if not remaining or not ok:
            self._save_all = None
            on_done(ok)
            return
        # Offline, the saves would wait without limit, so the caller hears at once.
        offline = not self._window.session_flow().monitor.is_online()
        outcome = "offline" if offline else self.save(remaining[0])
        if outcome not in ("started", "waiting"):
            self._save_all = None
            on_done(False)

    def _wait_for(self, product_id: str) -> None:
        if product_id not in self.waiting:
            self.waiting.append(product_id)

    def _start(self, session: ProductSession, resolutions: Mapping[tuple, Choice] | None = None) -> None:
        product_id = session.product.id
        if product_id in self.waiting:
            self.waiting.remove(product_id)
        chosen = dict(resolutions or {})
        self._resolutions[product_id] = chosen
        request = SaveRequest(
            base_url=self._window.context.base_url,
            product_id=product_id,
            base=session.gallery.snapshot,
            target=session.gallery.target(),
            resolutions=chosen,
        )
        self._running_product = product_id
        self.controller.start(request)
        self._show_progress(0, 0)
        self.update_actions()
        self.save_started.emit(product_id)

    def cancel(self) -> None:
        """Send no further requests; unsent changes stay pending."""
        self.waiting.clear()
        self.controller.cancel()
        self._window.show_status("Cancelling the save: requests already sent finish first…")

    def resume_waiting(self) -> None:
        """Start the first save that waited for the server or for another save."""
        if self.is_running() or not self._window.session_flow().monitor.is_online():
            return
        while self.waiting:
            session = self._window.session(self.waiting[0])
            if session is not None:
                self._start(session)
                return
            self.waiting.pop(0)

    # -- Save as I go ------------------------------------------------------------------------

    def _on_as_you_go_toggled(self, checked: bool) -> None:
        self._settings.setValue(SAVE_AS_YOU_GO_KEY, checked)
        if checked and self._window.current_session() is not None:
            self.on_edited(self._window.current_product_id() or "")

    def on_edited(self, product_id: str) -> None:
        """Queue the product's latest state when *Save as I go* is on."""
        if self._rebasing or not self.as_you_go_action.isChecked():
            return
        session = self._window.session(product_id)
        if session is None or not session.gallery.is_modified():
            return
        if not self._window.session_flow().monitor.is_online():
            self._wait_for(product_id)
            return
        self._queued_product = product_id
        self.controller.queue_edit(product_id, session.gallery.snapshot, session.gallery.target())

    # -- progress and results ------------------------------------------------------------------

    def _show_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"Saving {done} of {total}" if total else "Saving…")
        self.progress_bar.show()
        self.cancel_button.show()

    def _hide_progress(self) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()

    def _on_progress(self, done: int, total: int, _message: str) -> None:
        self._show_progress(done, total)

    def _on_crashed(self, message: str) -> None:
        self._running_product = None
        self.last_error = message
        self._hide_progress()
        self._window.show_status(message, persistent=True)
        self._show_message("Saving failed", message)
        self._after_save(ok=False)

    def _on_finished(self, report: SaveReport) -> None:
        product_id = self._report_product(report)
        self._running_product = None
        self.last_report = report
        self._hide_progress()
        logger.info("Save of product %s: %s", product_id, report.status)
        session = self._window.session(product_id) if product_id else None
        handler = {
            "conflicts": self._on_conflicts,
            "auth_failed": self._on_key_refused,
            "unreachable": self._on_unreachable,
        }.get(report.status)
        if handler is not None:
            handler(session, report)
        elif session is not None and report.snapshot is not None and report.status in REBASE_STATUSES:
            self._rebase(session, report)
            self._announce(session, report)
        else:
            self._window.show_status(report.summary, persistent=True)
            if report.status != "saved":
                self._show_message("Saving failed", report.summary)
        self.save_ended.emit(report)
        self._after_save(ok=report.status == "saved")

    def _report_product(self, report: SaveReport) -> str | None:
        for snapshot in (report.snapshot, report.merge.snapshot if report.merge else None):
            if snapshot is not None:
                return snapshot.id
        return self._running_product or self._queued_product

    def _after_save(self, *, ok: bool) -> None:
        self.update_actions()
        if self._save_all is not None:
            remaining, on_done, all_ok = self._save_all
            if remaining and remaining[0] not in self.waiting:
                remaining = remaining[1:]
            self._save_all = (remaining, on_done, all_ok and ok)
            if not self.is_running():
                self._next_of_save_all()
            return
        self.resume_waiting()

    def _rebase(self, session: ProductSession, report: SaveReport) -> None:
        assert report.snapshot is not None
        product_id = session.product.id
        self._rebasing = True
        try:
            rebase = rebase_gallery(
                session.gallery,
                session.stack,
                session.gallery.snapshot,
                report.snapshot,
                own_writes=planned_writes(report),
                resolutions=self._resolutions.pop(product_id, {}),
                # NOTE: a field someone changed between the engine's read and its read-back
                # also counts as a conflict here, and the user's value is kept.
                keep_mine_all=True,
            )
            if rebase.history_kept:
                session.stack.setClean()
            session.server_updates = rebase.server_updates
            session.failed = {
                image_id: message
                for image_id, message in report.failed.items()
                if image_id in session.gallery.order
            }
            self._window.session_flow().mark_saved(product_id, report.snapshot)
        finally:
            self._rebasing = False
        self._window.on_session_rebased(session)

    # -- reports that need the user ---------------------------------------------------------

    def _on_conflicts(self, session: ProductSession | None, report: SaveReport) -> None:
        self._window.show_status(report.summary, persistent=True)
        if session is None or report.merge is None:
            return
        if not self._window.dialogs_allowed:
            return
        dialog = ConflictDialog(report.merge, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        product_id = session.product.id
        dialog.accepted.connect(lambda: self.resolve_conflicts(product_id, dialog.resolutions()))
        dialog.rejected.connect(
            lambda: self._window.show_status("Save cancelled: the conflicting changes stay pending.")
        )
        dialog.destroyed.connect(lambda: setattr(self, "conflict_dialog", None))
        self.conflict_dialog = dialog
        dialog.open()

    def resolve_conflicts(self, product_id: str, resolutions: Mapping[tuple, Choice]) -> str:
        """Save a product again with the conflict choices; returns like `save`."""
        session = self._window.session(product_id)
        if session is None:
            return "No product is open."
        if self.is_running():
            return "A save is running."
        self._start(session, resolutions)
        return "started"

    def _on_key_refused(self, _session: ProductSession | None, report: SaveReport) -> None:
        self.waiting.clear()
        if self._save_all is not None:
            self._save_all = (self._save_all[0], self._save_all[1], False)
        text = KEY_REFUSED_TEXT.format(base_url=self._window.context.base_url)
        self._window.show_status(text, persistent=True)
        self._show_message("API key refused", f"{text}\n\n{report.summary}")

    def _on_unreachable(self, session: ProductSession | None, report: SaveReport) -> None:
        if session is not None:
            self._wait_for(session.product.id)
        self._window.session_flow().monitor.report_failure(report.summary)
        self._window.show_status(f"{report.summary} The save starts again when the server answers.")

    def _announce(self, session: ProductSession, report: SaveReport) -> None:
        parts = [report.summary]
        if report.dropped:
            names = ", ".join(name or image_id for image_id, name in report.dropped)
            parts.append(f"Deleted on the server, so their changes were dropped: {names}.")
        text = " ".join(parts)
        self._window.show_status(text, persistent=report.status != "saved")
        if report.status in ("partial", "failed"):
            details = "\n".join(f"• {self._image_label(session, image_id)}: {message}"
                                for image_id, message in sorted(report.failed.items()))
            self._show_message("Some changes were not saved", f"{text}\n\n{details}".strip())
        elif report.dropped:
            self._show_message("Images deleted on the server", text)

    def _image_label(self, session: ProductSession, image_id: str) -> str:
        if image_id in session.gallery.order:
            return session.gallery.fields(image_id).name or image_id
        return image_id

    def _show_message(self, title: str, text: str) -> None:
        """Show a non-modal message box, replacing the previous one."""
        if not self._window.dialogs_allowed:
            return
        if self.message_box is not None:
            self.message_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self._window)
        box.setObjectName("save_message")
        box.setModal(False)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda: setattr(self, "message_box", None) if self.message_box is box else None)
        self.message_box = box
        box.show()

    # -- the review dock ------------------------------------------------------------------------

    def decorate_review(self) -> None:
        """Add the server's message under each image of the review dock whose change failed."""
        session = self._window.current_session()
        if session is None or not session.failed:
            return
        tree = self._window.review_dock().change_tree()
        for row in range(tree.topLevelItemCount()):
            item = tree.topLevelItem(row)
            message = session.failed.get(item.data(CHANGE_COLUMN, IMAGE_ID_ROLE))
            if message is None:
                continue
            note = QTreeWidgetItem([NOT_SAVED_PREFIX + message, ""])
            note.setToolTip(CHANGE_COLUMN, NOT_SAVED_PREFIX + message)
            note.setForeground(CHANGE_COLUMN, self._window.palette().brush(self._window.palette().ColorRole.LinkVisited))
            item.addChild(note)
            item.setToolTip(CHANGE_COLUMN, f"{item.toolTip(CHANGE_COLUMN)}\n{NOT_SAVED_PREFIX}{message}")

    # -- state for tests and shutdown ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        report = self.last_report
        return {
            "running": self.is_running(),
            "status": report.status if report is not None else None,
            "summary": report.summary if report is not None else None,
            "failed": dict(report.failed) if report is not None else {},
            "patches_sent": report.patches_sent if report is not None else 0,
            "waiting": list(self.waiting),
            "queued_edits": self.controller.pending_edits(),
            "concurrency": self.concurrency,
        }

    def is_idle(self) -> bool:
        return not self.is_running() and self.controller.pending_edits() == 0 and not self.waiting

    def shutdown(self) -> None:
        """Cancel a running save and wait briefly for its requests in flight."""
        self.controller.cancel()
        if not self.controller.wait(10):
            logger.warning("The save worker was still running at shutdown; its changes stay in the journal")
