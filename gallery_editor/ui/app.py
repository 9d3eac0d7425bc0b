"""Application start-up: the QApplication, Qt's messages, the window and screenshot mode."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMessageLogContext, QRect, QtMsgType, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from gallery_editor.ui.context import AppContext
from gallery_editor.ui.gallery_model import Role, ThumbnailState

if TYPE_CHECKING:
    from gallery_editor.api import KelviqClient
    from gallery_editor.paths import AppPaths
    from gallery_editor.ui.main_window import MainWindow

logger = logging.getLogger(__name__)
qt_logger = logging.getLogger("gallery_editor.qt")

# Each thumbnail has its own download and decode deadlines. This one bounds the whole
# screenshot run: when it passes, the window is saved with whatever has loaded.
SCREENSHOT_DEADLINE_MS = 120_000
SCREENSHOT_POLL_MS = 100
SCREENSHOT_GRACE_MS = 3_000

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 3

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def route_qt_messages(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Send Qt's own messages to the `gallery_editor.qt` logger."""
    level = _QT_LEVELS.get(kind, logging.WARNING)
    # The offscreen platform warns about window features it cannot provide.
    if "This plugin does not support" in message:
        level = logging.DEBUG
    qt_logger.log(level, "%s (%s)", message, context.category or "qt")


def log_unhandled(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Log an exception that escaped a slot; the terminal shows one line, the file all."""
    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    logger.error("Internal error: %s", error, exc_info=(kind, error, trace))


def initial_product(args: argparse.Namespace, sandbox: Any) -> str | None:
    if args.product:
        return str(args.product)
    if sandbox is None:
        return None
    known = sandbox.catalog.well_known
    for option, key in (
        ("images_dir", "images_dir"),
        ("big_photos", "big_photos"),
        ("many_images", "many_images"),
    ):
        if getattr(args, option, None) and key in known:
            return str(known[key])
    return str(known["ten"])


def parse_geometry(text: str | None) -> QRect | None:
    """Read ``WIDTHxHEIGHT+X+Y``."""
    if not text:
        return None
    try:
        size, x, y = text.split("+")
        width, height = size.split("x")
        return QRect(int(x), int(y), int(width), int(height))
    except ValueError:
        logger.warning("Ignoring window geometry %r: expected WIDTHxHEIGHT+X+Y", text)
        return None


def run_app(
    args: argparse.Namespace, client: KelviqClient, paths: AppPaths, sandbox: Any
) -> int:
    """Show the main window and run the event loop; returns the exit code."""
    qInstallMessageHandler(route_qt_messages)
    sys.excepthook = log_unhandled
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setDesktopFileName("gallery-editor")

    from gallery_editor.ui.main_window import MainWindow

    notices = [getattr(sandbox, "start_notice", "")] if sandbox is not None else []
    context = AppContext(
        client=client,
        data_dir=paths.data_dir,
        cache_dir=paths.thumbnail_dir,
        settings_path=paths.settings_path,
        initial_product_id=initial_product(args, sandbox),
        concurrency=args.concurrency,
        sandbox=sandbox,
        notices=[notice for notice in notices if notice],
    )
    # A screenshot run passes dialogs_allowed=False, so the window reports through banners
    # and the status bar and never opens a dialog that would wait for a click.
    window = MainWindow(context, dialogs_allowed=not args.screenshot)
    geometry = parse_geometry(args.window_geometry)
    if geometry is not None:
        window.setGeometry(geometry)
    if args.test_control:
        from gallery_editor.ui.test_control import install_test_control

        install_test_control(window)

    screenshot = ScreenshotRun(window, args.screenshot) if args.screenshot else None
    window.show()
    window.after_show()
    if context.initial_product_id:
        window.open_product(context.initial_product_id)
    elif screenshot is not None:
        screenshot.finish_soon()
    code = app.exec()
    if screenshot is not None:
        code = screenshot.exit_code
    # Quitting without closing the window (the test control, a signal) still flushes the journal.
    window.shutdown()
    window.deleteLater()
    return code


class ScreenshotRun:
    """Wait for the product and its visible thumbnails, save a PNG, print counts, quit.

    Once every visible thumbnail has loaded or failed, the run waits up to
    `SCREENSHOT_GRACE_MS` longer so that a small gallery is counted complete. Thumbnails
    further down a large gallery may still be pending when the picture is taken.
    """

    def __init__(self, window: MainWindow, path: Path) -> None:
        self.window = window
        self.path = path
        self.exit_code = EXIT_OK
        self._done = False
        self._visible_done_at: float | None = None
        window.product_load_failed.connect(self._on_failed)
        self._poll = QTimer(window)
        self._poll.setInterval(SCREENSHOT_POLL_MS)
        self._poll.timeout.connect(self._check_progress)
        self._poll.start()
        QTimer.singleShot(SCREENSHOT_DEADLINE_MS, self._finish)

    def finish_soon(self) -> None:
        QTimer.singleShot(200, self._finish)

    def _on_failed(self, *_details: object) -> None:
        error = getattr(self.window, "last_load_error", None)
        kind = type(error).__name__ if error is not None else ""
        self.exit_code = (
            EXIT_UNREACHABLE if kind in ("NetworkError", "AuthenticationError") else EXIT_FAILED
        )
        self.finish_soon()

    def _check_progress(self) -> None:
        if self._done or self.window.current_gallery() is None:
            return
        if self.visible_pending() > 0:
            self._visible_done_at = None
            return
        now = time.monotonic()
        if self._visible_done_at is None:
            self._visible_done_at = now
        _loaded, _broken, pending = self.window.thumbnail_counts()
        if pending == 0 or now - self._visible_done_at >= SCREENSHOT_GRACE_MS / 1000:
            self._poll.stop()
            # Let the view paint the last thumbnails before grabbing it.
            self.finish_soon()

    def visible_pending(self) -> int:
        """Count the items in the viewport whose thumbnail is still loading."""
        view = self.window.gallery_view()
        model = view.model()
        area = view.viewport().rect()
        pending = 0
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if not view.visualRect(index).intersects(area):
                continue
            if model.data(index, Role.ThumbnailState) == ThumbnailState.Pending:
                pending += 1
        return pending

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._poll.stop()
        has_gallery = self.window.current_gallery() is not None
        loaded, broken, pending = self.window.thumbnail_counts() if has_gallery else (0, 0, 0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            saved = self.window.grab().save(str(self.path), "PNG")
        except OSError as error:
            saved = False
            logger.error("Cannot write the screenshot %s: %s", self.path, error)
        if not saved:
            print(f"gallery-editor: cannot write the screenshot {self.path}", file=sys.stderr)
            self.exit_code = EXIT_FAILED
        if has_gallery and self.visible_pending():
            # The deadline passed with visible thumbnails still loading.
            self.exit_code = self.exit_code or EXIT_FAILED
        print(f"thumbnails loaded={loaded} broken={broken} pending={pending}", flush=True)
        QApplication.quit()
