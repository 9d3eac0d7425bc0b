"""The main window: product picker, gallery view, undoable edits, review, saving and status.

Saving is in `save_flow.py`. The journal, recovery, offline copies and closing with
unsaved edits are in `session_flow.py`. This file builds the window and keeps one
`ProductSession` per opened product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from gallery_editor.api import AuthenticationError
from gallery_editor.journal import Journal, JournalError
from gallery_editor.domain.conflicts import ServerUpdate
from gallery_editor.domain.gallery import Edit, Gallery, GalleryEvent, InvalidEdit, InvalidName
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.gallery_delegate import DEFAULT_EDGE, MAX_EDGE, MIN_EDGE, GalleryDelegate
from gallery_editor.ui.gallery_model import GalleryModel, Role
from gallery_editor.ui.gallery_view import GalleryView
from gallery_editor.ui.icons import icon
from gallery_editor.ui.preview import PreviewDialog
from gallery_editor.ui.product_picker import ProductPicker
from gallery_editor.ui.review_dock import ReviewDock
from gallery_editor.ui.save_flow import SaveFlow
from gallery_editor.ui.session_flow import SessionFlow, rebase_gallery
from gallery_editor.ui.workers import JobRunner

if TYPE_CHECKING:
    from gallery_editor.thumbnails.loader import ThumbnailLoader
    from gallery_editor.ui.context import AppContext

logger = logging.getLogger(__name__)

APP_NAME = "Gallery Editor"
ZOOM_STEP = 32
REVIEW_DOCK_WIDTH = 220
MESSAGE_MS = 8000
EMPTY_PRODUCT_TEXT = "This product has no images."
PICK_PRODUCT_TEXT = "Choose a product on the left (Ctrl+O) to arrange its gallery."


@dataclass
class ProductSession:
    """A product opened in this window: its working copy and its own undo stack."""

    product: Product
    gallery: Gallery
    stack: QUndoStack
    # When the session was opened from the journal's offline copy: when that copy was fetched.
    offline_since: datetime | None = None
    # Fields changed on the server that the last save or reload took over, for the review dock.
    server_updates: list[ServerUpdate] = field(default_factory=list)
    # Image id to the server's message, for changes the last save could not make.
    failed: dict[str, str] = field(default_factory=dict)


class MainWindow(QMainWindow):
    """Top-level window; see `open_product` and the signals for the start-up and test interface."""

    product_loaded = Signal(str)
    product_load_failed = Signal(str)
    thumbnails_settled = Signal()
    gallery_edited = Signal(str)

    def __init__(
        self, context: AppContext, parent: QWidget | None = None, *, dialogs_allowed: bool = True
    ) -> None:
        super().__init__(parent)
        self.context = context
        # False in --screenshot mode: no dialog may appear, only banners and the status bar.
        self.dialogs_allowed = dialogs_allowed
        self.last_status_text = ""
        self.last_load_error: BaseException | None = None
        self.last_edit_error: str | None = None
        self._settings = QSettings(str(context.settings_path), QSettings.Format.IniFormat)
        self._runner = JobRunner(parent=self)
        self._sessions: dict[str, ProductSession] = {}
        self._current_id: str | None = None
        self._loading_id: str | None = None
        self._load_generation = 0
        self._awaiting_settle = False
        self._previews: list[PreviewDialog] = []
        self._shut_down = False

        self._undo_group = QUndoGroup(self)
        self._loader = self._create_loader()
        self._model = GalleryModel(self._loader, self)
        self._delegate = GalleryDelegate(self)
        self._view = GalleryView(self)
        self._picker = ProductPicker(
            context.client, self, offline_source=lambda: read_offline_copies(context)
        )
        self._review_dock = ReviewDock(self)
        self._session_flow = SessionFlow(self)
        self._save_flow = SaveFlow(self, self._settings)
        self._build_ui()
        self._connect_signals()
        self._restore_settings()
        self._update_window_state()
        if context.notices:
            self.statusBar().showMessage("  ".join(context.notices), 4 * MESSAGE_MS)
        self._picker.search_now()

    def after_show(self) -> None:
        """Start probing the server and offer the products with unsaved changes (call once shown)."""
        self._session_flow.after_show()

    # -- public interface --------------------------------------------------------------

    def open_product(self, product_id: str) -> None:
        """Show a product: at once if it was opened before, else after loading it in the background.

        The product shown before keeps its undo stack and its unsaved changes, which stay
        in the journal, and the status bar shows a message about it.
        """
        self._note_kept_changes(product_id)
        session = self._sessions.get(product_id)
        if session is not None:
            self._activate(session)
            self.product_loaded.emit(product_id)
            return
        self._start_loading(product_id)

    def session(self, product_id: str | None) -> ProductSession | None:
        return self._sessions.get(product_id) if product_id is not None else None

    def current_session(self) -> ProductSession | None:
        return self._current_session()

    def session_ids(self) -> list[str]:
        return list(self._sessions)

    def modified_session_ids(self) -> list[str]:
        """Return the opened products with changes not saved to the server."""
        return [pid for pid, session in self._sessions.items() if session.gallery.is_modified()]

    def product_name(self, product_id: str) -> str:
        session = self._sessions.get(product_id)
        return session.product.name if session is not None else product_id

    def review_dock(self) -> ReviewDock:
        return self._review_dock

    def save_flow(self) -> SaveFlow:
        return self._save_flow

    def session_flow(self) -> SessionFlow:
        return self._session_flow

    def save(self) -> str:
        """Save the current product; returns ``started``, ``waiting`` or why it did not start."""
        return self._save_flow.save()

    def show_status(self, text: str, *, persistent: bool = False) -> None:
        """Show a status-bar message; a persistent one stays until the next message."""
        self.last_status_text = text
        self.statusBar().showMessage(text, 0 if persistent else MESSAGE_MS)

    def current_gallery(self) -> Gallery | None:
        session = self._current_session()
        return session.gallery if session is not None else None

    def current_product_id(self) -> str | None:
        return self._current_id

    def current_stack(self) -> QUndoStack | None:
        session = self._current_session()
        return session.stack if session is not None else None

    def gallery_view(self) -> GalleryView:
        return self._view

    def gallery_model(self) -> GalleryModel:
        return self._model

    def gallery_delegate(self) -> GalleryDelegate:
        return self._delegate

    def product_picker(self) -> ProductPicker:
        return self._picker

    def undo_group(self) -> QUndoGroup:
        return self._undo_group

    def thumbnail_loader(self) -> ThumbnailLoader | None:
        return self._loader

    def thumbnail_counts(self) -> tuple[int, int, int]:
        """Return (loaded, broken, pending) thumbnails of the current product."""
        if self._current_session() is None:
            return 0, 0, 0
        return self._model.thumbnail_counts()

    def message_text(self) -> str:
        """Return the text the central area shows instead of the gallery ('' while it shows it)."""
        if self._pages.currentWidget() is self._view:
            return ""
        return self._message_label.text()

    def activity_text(self) -> str:
        return self._activity_label.text()

    def changes_text(self) -> str:
        return self._changes_label.text()

    def retry_button(self) -> QPushButton:
        return self._retry_button

    def zoom_slider(self) -> QSlider:
        return self._zoom_slider

    def action(self, name: str) -> QAction:
        """Return a window action by name, e.g. ``"move_earlier"`` or ``"undo"``."""
        return self._actions[name]

    # -- edits (each one is one undo command) ------------------------------------------

    def push_edit(self, edit: Edit | None) -> bool:
        """Push `edit` as one undo command on the current product's stack; False if nothing to do."""
        session = self._current_session()
        if edit is None or session is None:
            return False
        session.stack.push(EditCommand(session.gallery, edit))
        if self.last_edit_error is not None:
            # A rejection message must not linger next to the edit that followed it.
            self.last_edit_error = None
            self.statusBar().clearMessage()
        return True

    def move_images(self, image_ids: Sequence[str], row: int) -> bool:
        """Move images to just before the item now at `row` (``len`` for the end)."""
        return self._try_edit(lambda gallery: gallery.make_move(image_ids, row))

    def shift_images(self, image_ids: Sequence[str], step: Literal[-1, 1]) -> bool:
        return self._try_edit(lambda gallery: gallery.make_shift(image_ids, step))

    def rename_image(self, image_id: str, name: str) -> str | None:
        """Rename an image; returns None on success or the reason the name was rejected."""
        gallery = self.current_gallery()
        if gallery is None:
            return "No product is open."
        try:
            edit = gallery.make_rename(image_id, name)
        except InvalidName as error:
            self._show_rename_error(image_id, str(error))
            return str(error)
        self.push_edit(edit)
        return None

    def toggle_thumbnail(self, image_id: str) -> bool:
        return self._try_edit(lambda gallery: gallery.make_toggle_thumbnail(image_id))

    def set_enabled(self, image_ids: Sequence[str], enabled: bool) -> bool:
        return self._try_edit(lambda gallery: gallery.make_set_enabled(image_ids, enabled))

    def undo(self) -> None:
        self._undo_group.undo()

    def redo(self) -> None:
        self._undo_group.redo()

    def selected_ids(self) -> list[str]:
        """Return the selected image ids in working order, or the current item's id alone."""
        selection = self._view.selectionModel()
        ids = self._model.ids_of(selection.selectedIndexes()) if selection is not None else []
        if not ids and self._view.currentIndex().isValid():
            ids = [self._model.image_id(self._view.currentIndex().row())]
        return ids

    def select_ids(self, image_ids: Sequence[str]) -> None:
        """Select exactly these images and make the first one current."""
        selection = self._view.selectionModel()
        selection.clearSelection()
        for image_id in image_ids:
            index = self._model.index_of(image_id)
            selection.select(index, selection.SelectionFlag.Select)
        if image_ids:
            selection.setCurrentIndex(self._model.index_of(image_ids[0]), selection.SelectionFlag.NoUpdate)

    def shutdown(self) -> None:
        """Save the settings and stop background work; safe to call more than once."""
        if self._shut_down:
            return
        self._shut_down = True
        self._save_settings()
        self._save_flow.shutdown()
        # The keeper disconnects its own slots from the stacks, so it closes before the
        # window drops every remaining connection below.
        self._session_flow.shutdown()
        for session in self._sessions.values():
            # Stacks emit indexChanged while Qt destroys them, after this wrapper is gone.
            session.stack.indexChanged.disconnect()
        if self._loader is not None:
            self._loader.shutdown()
        self._runner.wait_for_done(5000)

    # -- building the window ------------------------------------------------------------

    def _create_loader(self) -> ThumbnailLoader | None:
        from gallery_editor.thumbnails.loader import ThumbnailLoader

        self.context.cache_dir.mkdir(parents=True, exist_ok=True)
        return ThumbnailLoader(self.context.cache_dir, parent=self)

    def _build_ui(self) -> None:
        self.setWindowIcon(icon("app"))
        self._view.setModel(self._model)
        self._view.setItemDelegate(self._delegate)
        self._view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._build_central()
        self._build_review_dock()
        self._actions = self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.setTabOrder(self._picker.search_box, self._picker.results)
        self.setTabOrder(self._picker.results, self._view)

    def _build_central(self) -> None:
        self._message_label = QLabel(PICK_PRODUCT_TEXT)
        self._message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message_label.setWordWrap(True)
        self._message_label.setAccessibleName("Gallery status")
        font = self._message_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self._message_label.setFont(font)

        self._retry_button = QPushButton(icon("reload"), "&Retry")
        self._retry_button.setAccessibleName("Retry loading the product")
        self._retry_button.clicked.connect(self._retry_load)
        self._retry_button.hide()

        message_page = QWidget()
        column = QVBoxLayout(message_page)
        column.addStretch(1)
        column.addWidget(self._message_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self._retry_button)
        row.addStretch(1)
        column.addLayout(row)
        column.addStretch(1)
        self._message_page = message_page

        self._pages = QStackedWidget()
        self._pages.addWidget(message_page)
        self._pages.addWidget(self._view)

        self._splitter = QSplitter(Qt.Orientation.Horizontal)
        self._splitter.addWidget(self._picker)
        self._splitter.addWidget(self._pages)
        self._splitter.setStretchFactor(1, 1)
        self._splitter.setSizes([260, 740])

        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(2)
        central_layout.addWidget(self._session_flow.pending_banner)
        central_layout.addWidget(self._session_flow.offline_banner)
        central_layout.addWidget(self._splitter, 1)
        self.setCentralWidget(central)

    def _build_review_dock(self) -> None:
        self._review_dock.setAllowedAreas(
            Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        self._review_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self._review_dock)
        # Narrow at first, so the gallery keeps most of the width; the user can widen it.
        self.resizeDocks([self._review_dock], [REVIEW_DOCK_WIDTH], Qt.Orientation.Horizontal)

    def _build_actions(self) -> dict[str, QAction]:
        undo = self._undo_group.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        undo.setIcon(icon("undo"))
        redo = self._undo_group.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence(QKeySequence.StandardKey.Redo))
        redo.setIcon(icon("redo"))
        review = self._review_dock.toggleViewAction()
        review.setText("&Review Changes")
        review.setShortcut(QKeySequence("Ctrl+R"))
        review.setStatusTip("Show or hide the list of pending changes")
        actions = {
            "undo": undo,
            "redo": redo,
            "save": self._save_flow.save_action,
            "save_as_you_go": self._save_flow.as_you_go_action,
            "review": review,
        }

        window_actions = [
            ("open", "&Open Product…", "open", "Ctrl+O", "Search for a product to open", self._picker.focus_search),
            ("quit", "&Quit", None, QKeySequence.StandardKey.Quit, "Close the window", self.close),
            ("zoom_in", "Zoom &In", "zoom-in", QKeySequence.StandardKey.ZoomIn, "Show larger thumbnails",
             lambda: self._zoom_by(1)),
            ("zoom_out", "Zoom &Out", "zoom-out", QKeySequence.StandardKey.ZoomOut, "Show smaller thumbnails",
             lambda: self._zoom_by(-1)),
        ]
        gallery_actions = [
            ("rename", "Re&name", "rename", "F2", "Rename the current image", self._rename_current),
            ("star", "Use as &Thumbnail", "star", "Ctrl+T",
             "Make the current image the product thumbnail, or clear it if it already is",
             self._toggle_current_thumbnail),
            ("toggle_enabled", "&Show or Hide", "visibility", "Space",
             "Show or hide the selected images (the opposite of the current image's state)",
             self._toggle_selected_enabled),
            ("preview", "&Preview", "preview", "Return", "Show the current image large", self._preview_current),
            ("move_earlier", "Move &Earlier", "move-earlier", "Ctrl+Left", "Move the selection one place earlier",
             lambda: self._shift_selection(-1)),
            ("move_later", "Move &Later", "move-later", "Ctrl+Right", "Move the selection one place later",
             lambda: self._shift_selection(1)),
            ("move_first", "Move to &Start", "move-first", "Ctrl+Home", "Move the selection to the start",
             lambda: self._move_selection_to("start")),
            ("move_last", "Move to En&d", "move-last", "Ctrl+End", "Move the selection to the end",
             lambda: self._move_selection_to("end")),
        ]

        for name, text, icon_name, shortcut, tip, slot in window_actions:
            actions[name] = self._make_action(text, icon_name, shortcut, tip, slot)
        for name, text, icon_name, shortcut, tip, slot in gallery_actions:
            action = self._make_action(text, icon_name, shortcut, tip, slot)
            # Only while the gallery has focus, so Space and Return keep their meaning elsewhere.
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            actions[name] = action
        self._add_view_actions(actions)
        return actions

    def _make_action(
        self,
        text: str,
        icon_name: str | None,
        shortcut: str | QKeySequence.StandardKey,
        tip: str,
        slot: Callable[[], object],
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        sequence = QKeySequence(shortcut)
        action.setShortcut(sequence)
        label = text.replace("&", "").rstrip("…")
        shortcut_text = sequence.toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{label} ({shortcut_text})" if shortcut_text else label)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _add_view_actions(self, actions: dict[str, QAction]) -> None:
        """Add the actions to the view: for their shortcuts and as its context menu."""
        order = ["undo", "redo", None, "preview", "rename", "star", "toggle_enabled", None,
                 "move_earlier", "move_later", "move_first", "move_last"]
        for name in order:
            if name is None:
                separator = QAction(self._view)
                separator.setSeparator(True)
                self._view.addAction(separator)
            else:
                self._view.addAction(actions[name])

    def _build_menus(self) -> None:
        menus = {
            "&File": ["open", None, "save", "save_as_you_go", None, "quit"],
            "&Edit": ["undo", "redo", None, "rename", "star", "toggle_enabled"],
            "&Arrange": ["move_earlier", "move_later", "move_first", "move_last"],
            "&View": ["review", None, "preview", None, "zoom_in", "zoom_out"],
        }
        for title, names in menus.items():
            menu: QMenu = self.menuBar().addMenu(title)
            for name in names:
                if name is None:
                    menu.addSeparator()
                else:
                    menu.addAction(self._actions[name])

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        for name in ("save", None, "undo", "redo", None, "move_first", "move_earlier", "move_later", "move_last",
                     None, "star", "toggle_enabled", "preview", None):
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self._actions[name])
        self._zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self._zoom_slider.setRange(MIN_EDGE, MAX_EDGE)
        self._zoom_slider.setSingleStep(16)
        self._zoom_slider.setPageStep(ZOOM_STEP)
        self._zoom_slider.setValue(DEFAULT_EDGE)
        self._zoom_slider.setMaximumWidth(180)
        self._zoom_slider.setAccessibleName("Thumbnail size")
        self._zoom_slider.setToolTip("Thumbnail size (Ctrl+mouse wheel)")
        toolbar.addWidget(QLabel(" Size "))
        toolbar.addWidget(self._zoom_slider)

    def _build_status_bar(self) -> None:
        self._activity_label = QLabel()
        self._activity_label.setAccessibleName("Loading status")
        self._changes_label = QLabel()
        self._changes_label.setAccessibleName("Unsaved changes")
        self.statusBar().addWidget(self._activity_label, 1)
        self.statusBar().addPermanentWidget(self._session_flow.journal_label)
        self.statusBar().addPermanentWidget(self._save_flow.progress_bar)
        self.statusBar().addPermanentWidget(self._save_flow.cancel_button)
        self.statusBar().addPermanentWidget(self._changes_label)

    def _connect_signals(self) -> None:
        self._picker.product_chosen.connect(self.open_product)
        self._model.move_requested.connect(self.move_images)
        self._model.rename_requested.connect(self.rename_image)
        self._model.thumbnail_counts_changed.connect(self._on_thumbnail_counts)
        self._delegate.star_clicked.connect(self._on_star_clicked)
        self._delegate.enabled_clicked.connect(self._on_enabled_clicked)
        self._view.preview_requested.connect(self.open_preview)
        self._view.zoom_requested.connect(self._zoom_by)
        self._view.visible_rows_changed.connect(self._update_visible_thumbnails)
        self._view.selectionModel().selectionChanged.connect(self._update_action_states)
        self._view.selectionModel().currentChanged.connect(self._update_action_states)
        self._zoom_slider.valueChanged.connect(self._apply_zoom)
        self.gallery_edited.connect(self._save_flow.on_edited)
        self.gallery_edited.connect(self._session_flow.schedule_indicator_update)
        self._review_dock.refreshed.connect(self._save_flow.decorate_review)
        if self._loader is not None:
            self._loader.loading_changed.connect(self._on_thumbnail_counts)
            self._loader.thumbnail_ready.connect(self._model.on_thumbnail_ready)
            self._loader.thumbnail_failed.connect(self._model.on_thumbnail_failed)

    # -- loading products -----------------------------------------------------------------

    def _start_loading(self, product_id: str) -> None:
        self._deactivate()
        self._load_generation += 1
        generation = self._load_generation
        self._loading_id = product_id
        self._session_flow.set_probe_product(product_id)
        self._activity_label.setText("Loading product…")
        self._show_message("Loading product…")
        client = self.context.client

        def fetch() -> tuple[int, Product]:
            return generation, client.get_product(product_id)

        self._runner.start(
            fetch,
            self._on_product_fetched,
            lambda error: self._on_product_failed(generation, product_id, error),
            name=f"load product {product_id}",
        )

    def _on_product_fetched(self, result: tuple[int, Product]) -> None:
        generation, product = result
        if generation != self._load_generation:
            return  # the user opened something else meanwhile
        self._loading_id = None
        self._session_flow.product_fetched(product)
        session = self._sessions.get(product.id)
        if session is None:
            session = self._new_session(product)
        self._activate(session)
        logger.info("Opened product %s with %d images", product.id, len(product.images))
        self.product_loaded.emit(product.id)

    def _on_product_failed(self, generation: int, product_id: str, error: BaseException) -> None:
        if generation != self._load_generation:
            return
        self.last_load_error = error

        def on_copy(copy: tuple[Product, datetime] | None) -> None:
            if generation != self._load_generation:
                return
            if copy is None:
                self._show_load_failure(product_id, error)
            else:
                self._open_offline_copy(*copy)

        if not self._session_flow.open_offline(product_id, error, on_copy):
            self._show_load_failure(product_id, error)

    def _open_offline_copy(self, product: Product, fetched_at: datetime) -> None:
        self._loading_id = None
        session = self._sessions.get(product.id)
        if session is None:
            session = self._new_session(product, offline_since=fetched_at)
        self._activate(session)
        logger.info("Opened the offline copy of product %s from %s", product.id, fetched_at)
        self.product_loaded.emit(product.id)

    def _show_load_failure(self, product_id: str, error: BaseException) -> None:
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        logger.warning("Loading product %s failed: %s", product_id, reason)
        message = f"Could not load product {product_id}: {reason}"
        self._activity_label.setText("Loading failed")
        self._show_message(f"{message}\nCheck the connection, then choose Retry.", retry=True)
        self.product_load_failed.emit(message)

    def _retry_load(self) -> None:
        if self._loading_id is not None:
            self._start_loading(self._loading_id)

    def _new_session(self, product: Product, *, offline_since: datetime | None = None) -> ProductSession:
        """Open a product: its journaled session when there is one, else a fresh gallery."""
        restored = self._session_flow.restore(product, self._undo_group)
        if restored is None:
            session = ProductSession(product, Gallery(product), QUndoStack(self._undo_group))
        else:
            gallery, stack, rebase = restored
            session = ProductSession(product, gallery, stack)
            if rebase is not None:
                session.server_updates = rebase.server_updates
                self._describe_restore(session, rebase.applied, len(rebase.merge.conflicts))
        session.offline_since = offline_since
        product_id = product.id
        session.stack.indexChanged.connect(lambda _index: self._on_stack_changed(product_id))
        session.gallery.subscribe(lambda event: self._on_gallery_event(product_id, event))
        self._sessions[product_id] = session
        # The keeper connects last, so the window's slots have run when it captures a change.
        self._session_flow.track(session)
        return session

    def _describe_restore(self, session: ProductSession, applied: bool, conflicts: int) -> None:
        name = session.product.name
        if not applied:
            self.show_status(
                f"Restored the unsaved changes to {name}. {conflicts} of them conflict with "
                "changes made on the server meanwhile; you choose which to keep when you save.",
                persistent=True,
            )
        elif session.server_updates:
            self.show_status(
                f"Restored the unsaved changes to {name} and took over the changes made on "
                "the server meanwhile (listed in Review Changes).",
                persistent=True,
            )
        else:
            self.show_status(f"Restored the unsaved changes to {name}.")

    def on_session_rebased(self, session: ProductSession) -> None:
        """Refresh what shows a session after a save or reload moved it onto a new snapshot."""
        session.offline_since = None
        if session is self._current_session():
            self._review_dock.set_gallery(session.gallery, session.stack, self._model.thumbnail_for)
            self._review_dock.set_server_updates(session.server_updates)
            self._session_flow.update_offline_banner()
        self._update_window_state()

    def on_online_changed(self, online: bool) -> None:
        """Enable saving again and refresh offline copies once the server responds."""
        self._save_flow.update_actions()
        if not online:
            return
        self._save_flow.resume_waiting()
        for session in list(self._sessions.values()):
            if session.offline_since is not None:
                self._refresh_offline_session(session.product.id)

    def _refresh_offline_session(self, product_id: str) -> None:
        client = self.context.client
        self._runner.start(
            lambda: client.get_product(product_id),
            self._on_offline_session_refreshed,
            lambda error: self._on_offline_refresh_failed(product_id, error),
            name=f"refresh product {product_id}",
        )

    def _on_offline_refresh_failed(self, product_id: str, error: BaseException) -> None:
        logger.info("Refreshing product %s failed: %s", product_id, error)
        if isinstance(error, AuthenticationError):
            # The server is back but rejects the key: show that now rather than at Save.
            self.show_status(f"The server is reachable again but rejected the API key: {error.message}", persistent=True)

    def _on_offline_session_refreshed(self, product: Product) -> None:
        session = self._sessions.get(product.id)
        if session is None or session.offline_since is None or self._save_flow.is_running():
            # A save reads the server state itself and moves the session onto it.
            return
        self._session_flow.product_fetched(product)
        if session.gallery.snapshot != product:
            rebase = rebase_gallery(
                session.gallery,
                session.stack,
                session.gallery.snapshot,
                product,
                own_writes=self._session_flow.own_writes(product.id),
            )
            session.server_updates = rebase.server_updates
        session.product = product
        self.on_session_rebased(session)

    def _note_kept_changes(self, next_product_id: str) -> None:
        session = self._current_session()
        if session is None or session.product.id == next_product_id or not session.gallery.is_modified():
            return
        self.show_status(
            f"The unsaved changes to {session.product.name} are kept with their undo history; "
            "open it again to save them."
        )

    def _activate(self, session: ProductSession) -> None:
        if self._loader is not None:
            self._loader.cancel_pending()
        self._load_generation += 1  # a load still running for another product is now stale
        self._loading_id = None
        self._current_id = session.product.id
        self._undo_group.setActiveStack(session.stack)
        self._model.set_gallery(session.gallery, self._resolve_url)
        self._review_dock.set_gallery(session.gallery, session.stack, self._model.thumbnail_for)
        if session.server_updates:
            self._review_dock.set_server_updates(session.server_updates)
        self._session_flow.update_offline_banner()
        self._session_flow.update_journal_indicator()
        self._save_flow.update_actions()
        if len(session.gallery) == 0:
            self._show_message(EMPTY_PRODUCT_TEXT)
        else:
            self._pages.setCurrentWidget(self._view)
            self._retry_button.hide()
            self._view.setCurrentIndex(self._model.index(0, 0))
        self._awaiting_settle = True
        self._update_window_state()
        self._update_action_states()
        self._update_visible_thumbnails()
        self._on_thumbnail_counts()

    def _deactivate(self) -> None:
        if self._loader is not None:
            self._loader.cancel_pending()
        self._current_id = None
        self._awaiting_settle = False
        self._undo_group.setActiveStack(None)
        self._model.set_gallery(None)
        self._review_dock.set_gallery(None, None)
        self._save_flow.update_actions()
        self._update_window_state()
        self._update_action_states()

    def _resolve_url(self, image: ProductImage) -> str:
        return self.context.client.resolve_image_url(image.image)

    def _current_session(self) -> ProductSession | None:
        return self._sessions.get(self._current_id) if self._current_id is not None else None

    def _show_message(self, text: str, *, retry: bool = False) -> None:
        self._message_label.setText(text)
        self._retry_button.setVisible(retry)
        self._pages.setCurrentWidget(self._message_page)

    # -- reacting to edits ----------------------------------------------------------------

    def _on_stack_changed(self, product_id: str) -> None:
        if self._shut_down:
            return
        if product_id == self._current_id:
            self._update_window_state()
        self.gallery_edited.emit(product_id)

    def _on_gallery_event(self, product_id: str, _event: GalleryEvent) -> None:
        if not self._shut_down and product_id == self._current_id:
            self._update_window_state()

    def _update_window_state(self) -> None:
        session = self._current_session()
        if session is None:
            self.setWindowTitle(f"{APP_NAME}")
            self.setWindowModified(False)
            self._changes_label.setText("")
            return
        gallery = session.gallery
        self.setWindowTitle(f"{session.product.name}[*] — {APP_NAME}")
        self.setWindowModified(gallery.is_modified())
        count = len(gallery.changed_image_ids())
        if count == 0:
            self._changes_label.setText("")
        else:
            noun = "image" if count == 1 else "images"
            self._changes_label.setText(f"{count} {noun} changed")

    def _update_action_states(self) -> None:
        has_gallery = self._current_session() is not None and self._model.rowCount() > 0
        has_current = has_gallery and self._view.currentIndex().isValid()
        for name in ("rename", "star", "preview"):
            self._actions[name].setEnabled(has_current)
        for name in ("toggle_enabled", "move_earlier", "move_later", "move_first", "move_last"):
            self._actions[name].setEnabled(has_gallery and bool(self.selected_ids()))

    def _try_edit(self, build: Callable[[Gallery], Edit | None]) -> bool:
        gallery = self.current_gallery()
        if gallery is None:
            return False
        try:
            edit = build(gallery)
        except InvalidEdit as error:
            self.last_edit_error = str(error)
            logger.warning("Edit rejected on product %s: %s", gallery.product_id, error)
            self.statusBar().showMessage(f"The change was not made: {error}", MESSAGE_MS)
            return False
        return self.push_edit(edit)

    def _show_rename_error(self, image_id: str, reason: str) -> None:
        self.last_edit_error = reason
        self.statusBar().showMessage(f"Name not changed: {reason}", MESSAGE_MS)
        if not self._model.contains(image_id):
            return
        rect = self._view.visualRect(self._model.index_of(image_id))
        anchor = self._view.viewport().mapToGlobal(self._delegate.name_rect(rect).bottomLeft())
        QToolTip.showText(anchor, f"Name not changed: {reason}", self._view.viewport(), rect, MESSAGE_MS)

    # -- user commands ----------------------------------------------------------------------

    def _shift_selection(self, step: Literal[-1, 1]) -> None:
        ids = self.selected_ids()
        if ids and self.shift_images(ids, step):
            self._keep_visible(ids)

    def _move_selection_to(self, where: Literal["start", "end"]) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        row = 0 if where == "start" else self._model.rowCount()
        if self.move_images(ids, row):
            self._keep_visible(ids)

    def _keep_visible(self, image_ids: Sequence[str]) -> None:
        index = self._view.currentIndex()
        if not index.isValid() or self._model.image_id(index.row()) not in image_ids:
            index = self._model.index_of(image_ids[0])
        self._view.scrollTo(index)

    def _rename_current(self) -> None:
        index = self._view.currentIndex()
        if index.isValid():
            self._view.edit(index)

    def _toggle_current_thumbnail(self) -> None:
        index = self._view.currentIndex()
        if index.isValid():
            self.toggle_thumbnail(self._model.image_id(index.row()))

    def _toggle_selected_enabled(self) -> None:
        index = self._view.currentIndex()
        ids = self.selected_ids()
        if not index.isValid() or not ids:
            return
        self.set_enabled(ids, not bool(index.data(Role.IsEnabled)))

    def _on_star_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.toggle_thumbnail(self._model.image_id(index.row()))

    def _on_enabled_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.set_enabled([self._model.image_id(index.row())], not bool(index.data(Role.IsEnabled)))

    def _preview_current(self) -> None:
        index = self._view.currentIndex()
        if index.isValid():
            self.open_preview(index)

    def open_preview(self, index: QModelIndex) -> PreviewDialog | None:
        """Open the preview dialog for the item at `index`."""
        if not index.isValid():
            return None
        url = index.data(Role.ImageUrl)
        if not url:
            self.statusBar().showMessage("This image has no valid address to preview.", MESSAGE_MS)
            return None
        dialog = PreviewDialog(str(index.data(Qt.ItemDataRole.DisplayRole)), str(url), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: self._previews.remove(dialog) if dialog in self._previews else None)
        self._previews.append(dialog)
        dialog.start()
        dialog.show()
        return dialog

    # -- thumbnails and zoom -------------------------------------------------------------------

    def _update_visible_thumbnails(self) -> None:
        if self._loader is None or self._current_session() is None:
            return
        self._loader.set_visible(self._model.urls_for_rows(self._view.visible_rows()))

    def _on_thumbnail_counts(self, *_args: object) -> None:
        if self._current_session() is None:
            return
        loaded, broken, pending = self._model.thumbnail_counts()
        total = loaded + broken + pending
        if pending:
            self._activity_label.setText(f"Loading thumbnails: {loaded + broken} of {total}")
            return
        # The review dock's order strip draws the thumbnails that have arrived meanwhile.
        self._review_dock.schedule_refresh()
        if broken:
            noun = "image" if broken == 1 else "images"
            self._activity_label.setText(f"{broken} {noun} could not be shown")
        else:
            self._activity_label.setText("")
        if self._awaiting_settle:
            self._awaiting_settle = False
            self.thumbnails_settled.emit()

    def _zoom_by(self, steps: int) -> None:
        self._zoom_slider.setValue(self._zoom_slider.value() + steps * ZOOM_STEP)

    def _apply_zoom(self, edge: int) -> None:
        self._delegate.set_edge(edge)
        self._view.relayout()

    # -- settings ------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self._settings.value("window/geometry")
        # A screenshot run (no dialogs) uses the default size, so that pictures of the
        # window look the same whatever size the user last left it at.
        if isinstance(geometry, QByteArray) and self.dialogs_allowed:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        state = self._settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = self._settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self._splitter.restoreState(splitter)
        try:
            zoom = int(self._settings.value("view/zoom", DEFAULT_EDGE))
        except (TypeError, ValueError):
            zoom = DEFAULT_EDGE
        self._zoom_slider.setValue(zoom)
        self._apply_zoom(self._zoom_slider.value())

    def _save_settings(self) -> None:
        if not self.dialogs_allowed:
            return  # a screenshot run leaves the user's window layout alone
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("window/state", self.saveState())
        self._settings.setValue("window/splitter", self._splitter.saveState())
        self._settings.setValue("view/zoom", self._zoom_slider.value())
        self._settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._shut_down and not self._session_flow.handle_close(event):
            return
        self.shutdown()
        super().closeEvent(event)


def read_offline_copies(context: AppContext) -> list[Product]:
    """Read the products cached in the journal for this base URL (for a worker thread)."""
    try:
        with Journal(context.data_dir) as journal:
            return [product for product, _fetched_at in journal.cached_products(context.base_url)]
    except JournalError as error:
        logger.warning("Cannot read the offline copies: %s", error)
        return []
