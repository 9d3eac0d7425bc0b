"""Logging set-up: a rotating log file, a quiet terminal, crash dumps and key redaction."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import IO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_fault_file: IO[str] | None = None


class RedactingFilter(logging.Filter):
    """Replace every occurrence of the given secrets in a record's text."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add_secret(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ConsoleFormatter(logging.Formatter):
    """One line per record on the terminal; tracebacks stay in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


redacting_filter = RedactingFilter()


def setup_logging(log_dir: Path | None, level: str = "WARNING") -> Path | None:
    """Send records to a rotating file in `log_dir` and short lines to standard error.

    The terminal shows records at `level` and above without tracebacks; the file keeps
    everything from INFO (or `level`, if lower) with tracebacks. Returns the log file path.
    """
    numeric_level = logging.getLevelName(level.upper())
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(min(numeric_level, logging.INFO))

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(numeric_level)
    console.setFormatter(ConsoleFormatter())
    console.addFilter(redacting_filter)
    root.addHandler(console)

    for noisy in ("httpx", "httpcore", "hishel", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if log_dir is None:
        return None
    log_path = log_dir / "gallery-editor.log"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_path, maxBytes=2 * 2**20, backupCount=3, encoding="utf-8"
        )
    except OSError as error:
        logging.getLogger(__name__).warning("Cannot write the log file %s: %s", log_path, error)
        return None
    file_handler.setLevel(min(numeric_level, logging.INFO))
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.addFilter(redacting_filter)
    root.addHandler(file_handler)
    _enable_faulthandler(log_dir / "crash.log")
    return log_path


def _enable_faulthandler(path: Path) -> None:
    """Write Python tracebacks of every thread to `path` on a fatal signal."""
    global _fault_file
    try:
        _fault_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - must stay open
    except OSError as error:
        logging.getLogger(__name__).warning("Cannot open %s for crash dumps: %s", path, error)
        return
    faulthandler.enable(_fault_file, all_threads=True)
