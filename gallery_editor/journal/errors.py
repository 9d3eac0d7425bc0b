"""Exceptions the change journal raises when its database cannot be used.

Every class here reports a problem with the environment (the file, the disk, another
process), never a programming error. Wrong arguments raise ``ValueError`` or
``TypeError`` and a closed journal raises ``RuntimeError``, so a caller can catch
``JournalError`` to tell the user without hiding bugs::

    JournalError
    ├── JournalNewerSchemaError   written by a newer Gallery Editor; left untouched
    ├── JournalCorruptError       damaged file that could not be moved aside, or damage
    │                             found while the journal was open
    ├── JournalBusyError          another process held the write lock past the busy timeout
    ├── JournalStorageError       disk full, I/O error, read-only or missing folder
    └── SentPatchNotFoundError    acknowledgement for a sent-PATCH record that is gone
"""

from __future__ import annotations

from pathlib import Path


class JournalError(Exception):
    """Base class: the journal database could not be read or written."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class JournalNewerSchemaError(JournalError):
    """The database has a schema version newer than this program supports."""

    def __init__(self, path: Path, found_version: int, supported_version: int) -> None:
        message = (
            f"The journal {path} has schema version {found_version}, but this Gallery "
            f"Editor supports versions up to {supported_version}. The file was left "
            "untouched: update Gallery Editor, or choose another data folder."
        )
        super().__init__(message, path=path)
        self.found_version = found_version
        self.supported_version = supported_version


class JournalCorruptError(JournalError):
    """The database file is damaged."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message, path=path)


class JournalBusyError(JournalError):
    """Another connection kept the database locked for longer than the busy timeout."""


class JournalStorageError(JournalError):
    """The file system refused a read or write (full disk, I/O error, permissions)."""


class SentPatchNotFoundError(JournalError, LookupError):
    """No sent-PATCH record has the given id, for example after ``clear_sent``."""

    def __init__(self, sent_id: int, path: Path) -> None:
        message = (
            f"No sent-PATCH record with id {sent_id} in {path}; it was cleared or never "
            "recorded. Reload the product from the server to see its current state."
        )
        super().__init__(message, path=path)
        self.sent_id = sent_id
