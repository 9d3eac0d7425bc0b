"""A test-only command channel: JSON commands on standard input, JSON replies on standard output.

Started by the hidden ``--test-control`` option. A `QSocketNotifier` on file descriptor 0
reads on the GUI thread, so no other thread touches a widget. Each line is one command
such as ``{"op": "state"}``; each reply is one line ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``, flushed at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QApplication

from gallery_editor.ui.main_window import MainWindow

logger = logging.getLogger(__name__)

Command = dict[str, Any]
Reply = dict[str, Any]
Handler = Callable[[MainWindow, Command], Reply]

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
    window.close()
    QApplication.quit()
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
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                self._write(self.execute(line))

    def execute(self, line: bytes) -> Reply:
        """Run one command line and return its reply."""
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
            return {"ok": True, "op": op, **handler(self._window, command)}
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
