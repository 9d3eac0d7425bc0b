"""The installed Qt binding keeps Python's reference counts intact.

PySide6 6.12.0 on Python 3.11 lowers the reference count of None on every call to a Qt
method that returns nothing, and of True on every signal emit, until the interpreter
aborts mid-session. pyproject.toml excludes that release; this test catches a binding
with the same fault.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal

CALLS = 200


class _Emitter(QObject):
    fired = Signal(str)


def test_void_calls_keep_none_alive(qapp) -> None:
    """Calling Qt methods that return nothing leaves None's reference count unchanged."""
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        timer.stop()
    assert sys.getrefcount(None) - before > -CALLS // 2


def test_signal_emits_keep_true_alive(qapp) -> None:
    """Emitting a signal leaves True's reference count unchanged."""
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(CALLS):
        emitter.fired.emit("x")
    assert sys.getrefcount(True) - before > -CALLS // 2
