"""Window wiring of the change journal, start-up recovery, offline copies and closing with edits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from gallery_editor.api import NetworkError
from gallery_editor.domain.conflicts import Choice, MergeResult, ServerUpdate, merge
from gallery_editor.domain.gallery import Gallery, ImageFields, InvalidEdit
from gallery_editor.domain.models import Product
from gallery_editor.journal import Journal, JournalError, SessionSummary
from gallery_editor.ui.connectivity import ConnectivityMonitor, offline_label
from gallery_editor.ui.recovery_dialog import PendingBanner, RecoveryDialog, recovered_journal_text
from gallery_editor.ui.session_keeper import (
    SessionKeeper,
    UnsupportedCommandError,
    encode_command,
    history_edits,
)

if TYPE_CHECKING:
    from gallery_editor.ui.main_window import MainWindow, ProductSession

logger = logging.getLogger(__name__)

JOURNAL_BUSY_TEXT = "Saving to journal…"
OFFLINE_TEXT = "Offline: the server cannot be reached. Saving waits until it answers again."

# Options of the connectivity monitor; tests lower the delays.
MONITOR_OPTIONS: dict[str, Any] = {}


# -- rebasing a working copy onto a newer server snapshot ---------------------------------------


@dataclass
class Rebase:
    """The outcome of moving a gallery onto a newer snapshot."""

    merge: MergeResult
    # True when the gallery now sits on the new snapshot. False when unresolved conflicts
    # kept it on its old base, so that the next save finds and shows them.
    applied: bool
    # False when the undo history no longer fits the new state and the stack was cleared.
    history_kept: bool = True
    server_updates: list[ServerUpdate] = field(default_factory=list)


def rebase_gallery(
    gallery: Gallery,
    stack: QUndoStack,
    base: Product,
    fresh: Product,
    *,
    own_writes: Mapping[str, Mapping[str, object]] | None = None,
    resolutions: Mapping[tuple, Choice] | None = None,
    keep_mine_all: bool = False,
) -> Rebase:
    """Merge the gallery's working state (made against `base`) with `fresh` and swap it in.

    Fields only the server changed are taken from `fresh`, the user's changes stay
    pending, and images deleted or added on the server leave or join the gallery. With
    unresolved conflicts (and `keep_mine_all` False) the gallery is left alone, so the
    conflicts are shown at save time. The undo stack is kept when every command still
    applies to the new state, and cleared otherwise.
    """
    merged = merge(
        base,
        gallery.target(),
        fresh,
        own_writes=own_writes,
        resolutions=resolutions,
        keep_mine_all=keep_mine_all,
    )
    if merged.unresolved:
        logger.info("Product %s keeps its old base: %d conflicts wait for the next save",
                    fresh.id, len(merged.conflicts))
        return Rebase(merged, applied=False, server_updates=list(merged.server_updates))
    order = [wanted.id for wanted in merged.target]
    fields = {
        wanted.id: ImageFields(wanted.name, wanted.thumbnail, wanted.enabled)
        for wanted in merged.target
    }
    gallery.replace_snapshot(fresh, order, fields)
    history_kept = history_fits(gallery, stack)
    if not history_kept:
        logger.info("The undo history of product %s does not fit the new server state, so "
                    "it was cleared", fresh.id)
        stack.clear()
    return Rebase(
        merged, applied=True, history_kept=history_kept, server_updates=list(merged.server_updates)
    )


def history_fits(gallery: Gallery, stack: QUndoStack) -> bool:
    """Return whether every command of `stack` can still be undone and redone on `gallery`.

    The commands are replayed on a scratch copy of the working state: undone down to
    the bottom of the stack, then redone to its top.
    """
    try:
        scratch = Gallery.from_state(gallery.snapshot, gallery.state_to_json())
        commands = [history_edits(encode_command(stack.command(i))) for i in range(stack.count())]
        for edits in reversed(commands[: stack.index()]):
            for edit in reversed(edits):
                scratch.revert(edit)
        for edits in commands:
            for edit in edits:
                scratch.apply(edit)
    except (InvalidEdit, UnsupportedCommandError, KeyError, ValueError) as error:
        logger.debug("Undo history of product %s does not fit: %s", gallery.product_id, error)
        return False
    return True


# -- widgets ---------------------------------------------------------------------------------------


class OfflineBanner(QFrame):
    """A strip "Offline — copy from …" with a *Retry now* button, shown while offline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offline_banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._label.setAccessibleName("Connection status")
        self.retry_button = QPushButton("Retry &now", self)
        self.retry_button.setObjectName("retry_connection")
        layout = QHBoxLayout(self)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.retry_button)
        self.hide()

    def show_text(self, text: str) -> None:
        self._label.setText(text)
        self.show()

    def text(self) -> str:
        return self._label.text()


# -- the flow ---------------------------------------------------------------------------------------


class SessionFlow(QObject):
    """Journals every product session, offers unsaved sessions at start and opens offline copies.

    Without a journal (it could not be opened) the window still works, edits live only
    in memory, and the status bar shows a message about it.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._dialogs_allowed = window.dialogs_allowed
        self.keeper: SessionKeeper | None = None
        self.journal: Journal | None = None
        self.recovery_dialog: RecoveryDialog | None = None
        self.close_dialog: QMessageBox | None = None
        self.discard_dialog: QMessageBox | None = None
        self.persisted_index: dict[str, int] = {}
        self._close_approved = False
        self._probe_product_id = ""
        self._build_widgets()
        self._open_journal()
        self.monitor = ConnectivityMonitor(self._probe, self, **MONITOR_OPTIONS)
        self.monitor.online_changed.connect(self._on_online_changed)
        self.offline_banner.retry_button.clicked.connect(self.monitor.retry_now)

    # -- start-up ------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.offline_banner = OfflineBanner()
        self.pending_banner = PendingBanner()
        self.pending_banner.review_requested.connect(self.offer_pending_sessions)
        self.journal_label = QLabel(JOURNAL_BUSY_TEXT)
        self.journal_label.setObjectName("journal_indicator")
        self.journal_label.setAccessibleName("Journal status")
        self.journal_label.hide()
        self._indicator_timer = QTimer(self)
        self._indicator_timer.setSingleShot(True)
        self._indicator_timer.setInterval(0)
        self._indicator_timer.timeout.connect(self.update_journal_indicator)

    def _open_journal(self) -> None:
        context = self._window.context
        try:
            self.keeper = SessionKeeper(context.data_dir, context.base_url, self)
            # The save engine records its PATCH requests here before sending them.
            self.journal = Journal(context.data_dir)
        except JournalError as error:
            logger.error("Running without a change journal: %s", error.message)
            if self.keeper is not None:
                self.keeper.close()
                self.keeper = None
            self._window.show_status(
                f"{error.message} Edits are kept in this window only until it closes.", persistent=True
            )
            return
        self.keeper.persist_failed.connect(self._on_persist_failed)
        self.keeper.edit_persisted.connect(self._on_edit_persisted)
        if self.keeper.recovered_from is not None:
            self._window.show_status(recovered_journal_text(self.keeper.recovered_from), persistent=True)

    def after_show(self) -> None:
        """Start probing the server and offer the products with unsaved changes."""
        self.monitor.start()
        summaries = self.pending_summaries()
        self.pending_banner.set_summaries(summaries)
        if summaries and self._dialogs_allowed:
            self.offer_pending_sessions()

    def pending_summaries(self) -> list[SessionSummary]:
        """List the journaled sessions of products not open in this window."""
        if self.keeper is None:
            return []
        open_ids = set(self._window.session_ids())
        return [summary for summary in self.keeper.pending() if summary.product_id not in open_ids]

    def offer_pending_sessions(self) -> None:
        """Show the recovery dialog (window-modal, not blocking) for the unsaved sessions."""
        summaries = self.pending_summaries()
        if self.keeper is None or not summaries or not self._dialogs_allowed:
            return
        if self.recovery_dialog is not None:
            self.recovery_dialog.close()
        dialog = RecoveryDialog(summaries, self._window, recovered_from=self.keeper.recovered_from)
        dialog.open_requested.connect(self._window.open_product)
        dialog.discard_confirmed.connect(self._discard_pending)
        dialog.finished.connect(lambda _result: self.refresh_pending_banner())
        self.recovery_dialog = dialog
        dialog.open()

    def _discard_pending(self, product_id: str) -> None:
        if self.keeper is not None:
            self.keeper.discard(product_id)
        self.refresh_pending_banner()

    def refresh_pending_banner(self) -> None:
        self.pending_banner.set_summaries(self.pending_summaries())

    # -- sessions ------------------------------------------------------------------------------

    def restore(self, product: Product, stack_parent: QObject) -> tuple[Gallery, QUndoStack, Rebase | None] | None:
        """Rebuild the journaled session of a fresh `product` and move it onto that product.

        Returns None when the journal has no session of the product.
        """
        if self.keeper is None:
            return None
        restored = self.keeper.restore(product.id, product, stack_parent)
        if restored is None:
            return None
        gallery, stack = restored
        logger.info("Restored the unsaved changes of product %s", product.id)
        if gallery.snapshot == product:
            return gallery, stack, None
        rebase = rebase_gallery(
            gallery, stack, gallery.snapshot, product, own_writes=self.own_writes(product.id)
        )
        return gallery, stack, rebase

    def own_writes(self, product_id: str) -> dict[str, dict[str, Any]]:
        """Return the values this app sent for a product and has not cleared yet."""
        if self.journal is None:
            return {}
        try:
            return self.journal.sent_values(self._window.context.base_url, product_id)
        except JournalError as error:
            logger.warning("Reading the sent changes of product %s failed: %s", product_id, error.message)
            return {}

    def track(self, session: ProductSession) -> None:
        """Journal every later change of a session; call after the window connected its slots."""
        if self.keeper is not None:
            self.keeper.track(session.gallery, session.stack, session.product.name)
        self.refresh_pending_banner()

    def product_fetched(self, product: Product) -> None:
        """Keep the offline copy of a product just read from the server."""
        self._probe_product_id = product.id
        self.monitor.report_success()
        if self.keeper is not None:
            self.keeper.cache_product(product)

    def set_probe_product(self, product_id: str) -> None:
        self._probe_product_id = product_id

    def mark_saved(self, product_id: str, snapshot: Product) -> None:
        if self.keeper is not None:
            self.keeper.mark_saved(product_id, snapshot)
            # The offline copy must show the server after the save, or reopening it
            # offline would report our own saved changes as the server's.
            self.keeper.cache_product(snapshot)

    def is_persisted(self, product_id: str | None) -> bool:
        if self.keeper is None or product_id is None:
            return True
        return self.keeper.is_persisted(product_id)

    # -- offline copies ------------------------------------------------------------------------

    def open_offline(
        self,
        product_id: str,
        error: BaseException,
        on_copy: Callable[[tuple[Product, datetime] | None], None],
    ) -> bool:
        """Look up the offline copy after a `NetworkError`; False when there is nothing to look up."""
        if not isinstance(error, NetworkError) or self.keeper is None:
            return False
        self._probe_product_id = product_id
        self.monitor.report_failure(error.message)
        self.keeper.cached_product(
            product_id, on_result=on_copy, on_error=lambda message: self._on_cache_failed(message, on_copy)
        )
        return True

    def _on_cache_failed(
        self, message: str, on_copy: Callable[[tuple[Product, datetime] | None], None]
    ) -> None:
        logger.warning("Reading the offline copy failed: %s", message)
        on_copy(None)

    def _probe(self) -> object:
        # Runs on the monitor's worker thread: it reads only a plain string attribute.
        client = self._window.context.client
        product_id = self._probe_product_id
        if product_id:
            return client.get_product(product_id)
        return next(iter(client.iter_products(page_size=1)), None)

    def update_offline_banner(self) -> None:
        if self.monitor.is_online():
            self.offline_banner.hide()
            return
        session = self._window.current_session()
        if session is not None and session.offline_since is not None:
            self.offline_banner.show_text(offline_label(session.offline_since))
        else:
            self.offline_banner.show_text(OFFLINE_TEXT)

    def _on_online_changed(self, online: bool) -> None:
        logger.info("The server is %s", "reachable again" if online else "unreachable")
        self.update_offline_banner()
        self._window.on_online_changed(online)

    # -- the journal indicator -----------------------------------------------------------------

    def schedule_indicator_update(self) -> None:
        # The keeper marks a change in its own slot of the same signal, so look one turn later.
        self._indicator_timer.start()

    def update_journal_indicator(self) -> None:
        busy = not self.is_persisted(self._window.current_product_id())
        self.journal_label.setVisible(busy)

    def _on_edit_persisted(self, product_id: str, stack_index: int) -> None:
        self.persisted_index[product_id] = stack_index
        self.update_journal_indicator()

    def _on_persist_failed(self, message: str) -> None:
        self._window.show_status(f"Journal: {message}", persistent=True)
        self.update_journal_indicator()

    # -- closing -------------------------------------------------------------------------------

    def handle_close(self, event: QCloseEvent) -> bool:
        """Return True when the window may close now; otherwise ask what to do with the edits.

        The dialog offers *Keep for later* (the default: the edits stay in the journal),
        *Save now*, *Discard…* (confirmed first) and *Cancel*.
        """
        modified = self._window.modified_session_ids()
        if self._close_approved or not modified or not self._dialogs_allowed:
            return True
        event.ignore()
        if self.close_dialog is None:
            self._open_close_dialog(modified)
        return False

    def _open_close_dialog(self, modified: list[str]) -> None:
        names = ", ".join(self._window.product_name(product_id) for product_id in modified)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            f"Unsaved changes to {names}. Keep them for later? They stay in the change "
            "journal and are offered the next time the app starts.",
            QMessageBox.StandardButton.NoButton,
            self._window,
        )
        box.setObjectName("close_dialog")
        keep = box.addButton("&Keep for later", QMessageBox.ButtonRole.AcceptRole)
        save = box.addButton("&Save now", QMessageBox.ButtonRole.ActionRole)
        discard = box.addButton("&Discard…", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.setEscapeButton(cancel)
        choices = {keep: "keep", save: "save", discard: "discard", cancel: "cancel"}
        box.buttonClicked.connect(lambda button: self.close_choice(choices.get(button, "cancel")))
        box.finished.connect(lambda _result: self._forget_close_dialog(box))
        self.close_dialog = box
        box.open()

    def _forget_close_dialog(self, box: QMessageBox) -> None:
        if self.close_dialog is box:
            self.close_dialog = None
        box.deleteLater()

    def close_choice(self, choice: str) -> None:
        """Carry out a choice of the close dialog: ``keep``, ``save``, ``discard`` or ``cancel``."""
        logger.info("Closing with unsaved changes: %s", choice)
        if choice == "keep":
            self._close_now()
        elif choice == "save":
            self._window.save_flow().save_all(
                self._window.modified_session_ids(), self._on_saved_before_close
            )
        elif choice == "discard":
            self._confirm_discard()

    def _on_saved_before_close(self, all_saved: bool) -> None:
        if all_saved:
            self._close_now()
            return
        self._window.show_status(
            "Some changes could not be saved, so the window stays open. They are kept in the "
            "journal: save again, or close and keep them for later.",
            persistent=True,
        )

    def _confirm_discard(self) -> None:
        modified = self._window.modified_session_ids()
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Discard unsaved changes?",
            f"Discard the unsaved changes to {len(modified)} "
            f"product{'s' if len(modified) != 1 else ''} and close? This cannot be undone.",
            QMessageBox.StandardButton.NoButton,
            self._window,
        )
        box.setObjectName("discard_on_close_confirmation")
        discard = box.addButton("&Discard and close", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.buttonClicked.connect(lambda button: self.discard_and_close() if button is discard else None)
        box.finished.connect(lambda _result: box.deleteLater())
        self.discard_dialog = box
        box.open()

    def discard_and_close(self) -> None:
        """Delete the journaled sessions of every modified product and close the window."""
        for product_id in self._window.modified_session_ids():
            if self.keeper is not None:
                # Untracking writes any last change first, so the discard that follows wins.
                self.keeper.untrack(product_id)
                self.keeper.discard(product_id)
            logger.info("Discarded the unsaved changes of product %s", product_id)
        self._close_now()

    def _close_now(self) -> None:
        self._close_approved = True
        self._window.close()

    def shutdown(self) -> None:
        """Stop probing and write every pending change to the journal."""
        self.monitor.stop()
        self.monitor.wait_for_probe(5000)
        if self.keeper is not None:
            try:
                self.keeper.close(timeout=10)
            except TimeoutError:
                logger.error("The journal did not finish writing within 10 s at shutdown")
        if self.journal is not None:
            self.journal.close()
