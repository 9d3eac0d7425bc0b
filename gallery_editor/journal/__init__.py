"""Local SQLite change journal: unsaved edits, offline product cache, sent PATCH records."""

from gallery_editor.journal.database import DATABASE_NAME, DEFAULT_BUSY_TIMEOUT
from gallery_editor.journal.errors import (
    JournalBusyError,
    JournalCorruptError,
    JournalError,
    JournalNewerSchemaError,
    JournalStorageError,
    SentPatchNotFoundError,
)
from gallery_editor.journal.journal import Journal
from gallery_editor.journal.records import SentPatch, Session, SessionSummary
from gallery_editor.journal.schema import SCHEMA_VERSION
from gallery_editor.journal.writer import JournalWriter

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_BUSY_TIMEOUT",
    "SCHEMA_VERSION",
    "Journal",
    "JournalBusyError",
    "JournalCorruptError",
    "JournalError",
    "JournalNewerSchemaError",
    "JournalStorageError",
    "JournalWriter",
    "SentPatch",
    "SentPatchNotFoundError",
    "Session",
    "SessionSummary",
]
