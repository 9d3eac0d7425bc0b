"""A test-only command channel: JSON commands on standard input, JSON replies on standard output.

Started by the hidden ``--test-control`` option. A `QSocketNotifier` on file descriptor 0
reads on the GUI thread, so no other thread touches a widget. Each line is one command
such as ``{"op": "state"}``; each reply is one line ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``, flushed at once.

An op may reply later (``open`` and ``wait_idle`` wait for the window): its handler
returns a `PendingReply`, and later command lines wait in the buffer until it is resolved,
so replies always come in command order.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

from gallery_editor.ui.main_window import MainWindow

logger = logging.getLogger(__name__)

Command = dict[str, Any]
Reply = dict[str, Any]


class PendingReply:
    """A reply that a handler delivers later by calling `resolve` or `fail` on the GUI thread."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Reply], None]] = []
        self.reply: Reply | None = None
        self.op: str | None = None

    def resolve(self, reply: Reply) -> None:
        self._finish({"ok": True, "op": self.op, **reply})

    def fail(self, error: str) -> None:
        self._finish({"ok": False, "op": self.op, "error": error})

    def _finish(self, reply: Reply) -> None:
        if self.reply is not None:
            return
        self.reply = reply
        for callback in self._callbacks:
            callback(reply)

    def on_done(self, callback: Callable[[Reply], None]) -> None:
        if self.reply is not None:
            callback(self.reply)
        else:
            self._callbacks.append(callback)


Handler = Callable[[MainWindow, Command], "Reply | PendingReply"]

HANDLERS: dict[str, Handler] = {}


class CommandError(Exception):
    """A command that cannot be carried out; the message goes back as the reply's error."""


def register_op(name: str, handler: Handler) -> None:
    """Add or replace the handler of operation `name` (other parts add ops such as save)."""
    HANDLERS[name] = handler


def _state(window: MainWindow, _command: Command) -> Reply:
    gallery = window.current_gallery()
    loaded, broken, pending = window.thumbnail_counts()
    reply: Reply = {
        "product_id": window.current_product_id(),
        "thumbnails": {"loaded": loaded, "broken": broken, "pending": pending},
        "title": window.windowTitle(),
        "window_modified": window.isWindowModified(),
    }
    if gallery is None:
        return {**reply, "order": [], "fields": {}, "modified": False, "changed_count": 0}
    fields = {
        image_id: {"name": value.name, "thumbnail": value.thumbnail, "enabled": value.enabled}
        for image_id in gallery.order
        for value in (gallery.fields(image_id),)
    }
    return {
        **reply,
        "order": list(gallery.order),
        "fields": fields,
        "modified": gallery.is_modified(),
        "changed_count": len(gallery.changed_image_ids()),
    }


def _item_rect(window: MainWindow, command: Command) -> Reply:
    row = _int(command, "row")
    model = window.gallery_model()
    if not 0 <= row < model.rowCount():
        raise CommandError(f"row {row} is outside 0..{model.rowCount() - 1}")
    view = window.gallery_view()
    index = model.index(row, 0)
    view.scrollTo(index)
    rect = view.visualRect(index)
    top_left = view.viewport().mapToGlobal(rect.topLeft())
    return {"x": top_left.x(), "y": top_left.y(), "width": rect.width(), "height": rect.height()}


def _move(window: MainWindow, command: Command) -> Reply:
    return {"changed": window.move_images(_ids(command), _int(command, "row"))}


def _rename(window: MainWindow, command: Command) -> Reply:
    error = window.rename_image(_text(command, "id"), _text(command, "name"))
    if error is not None:
        raise CommandError(error)
    return {}


def _star(window: MainWindow, command: Command) -> Reply:
    return {"changed": window.toggle_thumbnail(_text(command, "id"))}


def _enable(window: MainWindow, command: Command) -> Reply:
    enabled = command.get("enabled")
    if not isinstance(enabled, bool):
        raise CommandError(f"'enabled' must be true or false, not {enabled!r}")
    return {"changed": window.set_enabled(_ids(command), enabled)}


def _undo(window: MainWindow, _command: Command) -> Reply:
    window.undo()
    return {}


def _redo(window: MainWindow, _command: Command) -> Reply:
    window.redo()
    return {}


def _quit(window: MainWindow, _command: Command) -> Reply:
    # Shutting down first writes every edit to the journal and skips the close dialog.
    window.shutdown()
    window.close()
    QApplication.quit()
    return {}


def _save(window: MainWindow, _command: Command) -> Reply:
    outcome = window.save()
    if outcome not in ("started", "waiting"):
        raise CommandError(outcome)
    return {"started": outcome == "started", "waiting": outcome == "waiting"}


def _save_state(window: MainWindow, _command: Command) -> Reply:
    flow = window.session_flow()
    product_id = window.current_product_id()
    return {
        **window.save_flow().state(),
        "online": flow.monitor.is_online(),
        "product_id": product_id,
        "persisted": flow.is_persisted(product_id),
        "persisted_index": flow.persisted_index.get(product_id or ""),
        "stack_index": window.current_stack().index() if window.current_stack() is not None else None,
        "status_text": window.last_status_text,
    }


def _is_idle(window: MainWindow) -> bool:
    return window.save_flow().is_idle() and window.session_flow().is_persisted(window.current_product_id())


def _wait_idle(window: MainWindow, command: Command) -> Reply | PendingReply:
    """Reply once no save runs or waits and the journal has every edit of the current product."""
    timeout_ms = command.get("timeout_ms", 60_000)
    if not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise CommandError(f"'timeout_ms' must be a positive integer, not {timeout_ms!r}")
    if _is_idle(window):
        return _save_state(window, command)
    pending = PendingReply()
    poll = QTimer(window)
    poll.setInterval(20)
    waited = {"ms": 0}

    def check() -> None:
        waited["ms"] += poll.interval()
        if _is_idle(window):
            poll.stop()
            poll.deleteLater()
            pending.resolve(_save_state(window, command))
        elif waited["ms"] >= timeout_ms:
            poll.stop()
            poll.deleteLater()
            pending.fail(f"not idle after {timeout_ms} ms: {_save_state(window, command)}")

    poll.timeout.connect(check)
    poll.start()
    return pending


def _open(window: MainWindow, command: Command) -> Reply | PendingReply:
    """Open a product and reply once it is shown (or its loading failed)."""
    product_id = _text(command, "id")
    pending = PendingReply()

    def loaded(shown_id: str) -> None:
        if shown_id != product_id:
            return
        disconnect()
        session = window.current_session()
        offline = session is not None and session.offline_since is not None
        pending.resolve({"product_id": shown_id, "offline": offline})

    def failed(message: str) -> None:
        disconnect()
        pending.fail(message)

    def disconnect() -> None:
        window.product_loaded.disconnect(loaded)
        window.product_load_failed.disconnect(failed)

    window.product_loaded.connect(loaded)
    window.product_load_failed.connect(failed)
    window.open_product(product_id)
    return pending


def _pending_sessions(window: MainWindow, _command: Command) -> Reply:
    keeper = window.session_flow().keeper
    summaries = keeper.pending() if keeper is not None else []
    return {
        "sessions": [
            {
                "product_id": summary.product_id,
                "name": summary.product_name,
                "change_count": summary.change_count,
                "updated_at": summary.updated_at.isoformat(),
            }
            for summary in summaries
        ]
    }


def _resolve_conflicts(window: MainWindow, command: Command) -> Reply:
    """Pick one side for every conflict of the open conflict dialog and continue the save."""
    choice = command.get("choice")
    if choice not in ("mine", "theirs"):
        raise CommandError(f"'choice' must be \"mine\" or \"theirs\", not {choice!r}")
    dialog = window.save_flow().conflict_dialog
    if dialog is None:
        raise CommandError("no conflict dialog is open; save first and wait for status 'conflicts'")
    dialog.choose_all(choice)
    dialog.ok_button().click()
    return {"started": window.save_flow().is_running()}


def _retry_now(window: MainWindow, _command: Command) -> Reply:
    window.session_flow().monitor.retry_now()
    return {}


def _int(command: Command, key: str) -> int:
    value = command.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f"'{key}' must be an integer, not {value!r}")
    return value


def _text(command: Command, key: str) -> str:
    value = command.get(key)
    if not isinstance(value, str):
        raise CommandError(f"'{key}' must be a string, not {value!r}")
    return value


def _ids(command: Command) -> list[str]:
    value = command.get("ids")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CommandError(f"'ids' must be a list of image id strings, not {value!r}")
    return value


for _name, _handler in {
    "state": _state,
    "item_rect": _item_rect,
    "move": _move,
    "rename": _rename,
    "star": _star,
    "enable": _enable,
    "undo": _undo,
    "redo": _redo,
    "quit": _quit,
    "save": _save,
    "save_state": _save_state,
    "wait_idle": _wait_idle,
    "open": _open,
    "pending_sessions": _pending_sessions,
    "retry_now": _retry_now,
    "resolve_conflicts": _resolve_conflicts,
}.items():
    register_op(_name, _handler)


class TestControl(QObject):
    """Reads commands from a file descriptor on the GUI thread and writes one reply per command."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, window: MainWindow, fd: int = 0, output: TextIO | None = None) -> None:
        super().__init__(window)
        self._window = window
        self._fd = fd
        self._output = output if output is not None else sys.stdout
        self._buffer = b""
        self._waiting: PendingReply | None = None
        os.set_blocking(fd, False)
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read_available)

    def close(self) -> None:
        """Stop reading; call before closing the file descriptor."""
        self._notifier.setEnabled(False)
        self._notifier.deleteLater()

    def _read_available(self) -> None:
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            logger.info("Test control input closed; no more commands are read")
            self._notifier.setEnabled(False)
            return
        self._buffer += chunk
        self._run_buffered()

    def _run_buffered(self) -> None:
        while self._waiting is None and b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            reply = self.execute(line)
            if isinstance(reply, PendingReply):
                self._waiting = reply
                reply.on_done(self._on_pending_done)
            else:
                self._write(reply)

    def _on_pending_done(self, reply: Reply) -> None:
        self._waiting = None
        self._write(reply)
        self._run_buffered()

    def execute(self, line: bytes) -> Reply | PendingReply:
        """Run one command line and return its reply, or a `PendingReply` that resolves later."""
        try:
            command = json.loads(line)
        except ValueError as error:
            return {"ok": False, "error": f"invalid JSON command {line[:200]!r}: {error}"}
        if not isinstance(command, dict):
            return {"ok": False, "error": f"a command must be a JSON object, not {command!r}"}
        op = command.get("op")
        handler = HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"ok": False, "op": op, "error": f"unknown op {op!r}; known: {', '.join(sorted(HANDLERS))}"}
        try:
            result = handler(self._window, command)
            if isinstance(result, PendingReply):
                result.op = op
                return result
            return {"ok": True, "op": op, **result}
        except CommandError as error:
            return {"ok": False, "op": op, "error": str(error)}
        except Exception as error:  # noqa: BLE001 - the test driver gets the failure as data
            logger.exception("Test control op %s failed", op)
            return {"ok": False, "op": op, "error": f"{type(error).__name__}: {error}"}

    def _write(self, reply: Reply) -> None:
        self._output.write(json.dumps(reply) + "\n")
        self._output.flush()


def install_test_control(window: MainWindow) -> TestControl:
    """Start reading commands from standard input for `window`."""
    return TestControl(window)
