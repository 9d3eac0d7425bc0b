"""Opening the journal's SQLite file: probing, moving a damaged file aside, settings, errors."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from gallery_editor.journal.errors import (
    JournalBusyError,
    JournalCorruptError,
    JournalError,
    JournalNewerSchemaError,
    JournalStorageError,
)
from gallery_editor.journal.schema import MIGRATIONS, MigrationStep, migrate, read_schema_version

logger = logging.getLogger(__name__)

DATABASE_NAME = "journal.sqlite3"
DEFAULT_BUSY_TIMEOUT = 10.0

# The database header: 100 bytes starting with this magic string; bytes 60-63 are
# PRAGMA user_version as a big-endian integer (https://sqlite.org/fileformat.html).
SQLITE_HEADER_SIZE = 100
SQLITE_MAGIC = b"SQLite format 3\x00"

# Files SQLite keeps next to the database in WAL mode; they move together with it.
COMPANION_SUFFIXES = ("-wal", "-shm")

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_STORAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_NOLFS,
    }
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Format as UTC ISO 8601 with microseconds, a fixed width so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def primary_error_code(error: sqlite3.Error) -> int | None:
    # Extended result codes keep the primary code in their low byte.
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_corruption(error: sqlite3.Error) -> bool:
    return primary_error_code(error) in _CORRUPT_CODES


def translate_error(error: sqlite3.Error, path: Path, busy_timeout: float) -> JournalError | None:
    """Map an environment failure to a ``JournalError``; return None for a programming error."""
    code = primary_error_code(error)
    if code in _BUSY_CODES:
        return JournalBusyError(
            f"The journal {path} stayed locked by another connection (another window, the "
            f"apply command or another thread) for more than {busy_timeout:g} s: {error}. "
            "Try again when the other one has finished saving.",
            path=path,
        )
    if code in _CORRUPT_CODES:
        return JournalCorruptError(
            f"The journal {path} is damaged: {error}. Restart Gallery Editor: on opening it "
            "moves the damaged file aside and starts a new journal.",
            path=path,
        )
    if code in _STORAGE_CODES:
        return JournalStorageError(
            f"The journal {path} could not be read or written: {error}. Free disk space "
            "or fix the folder's permissions, then try again.",
            path=path,
        )
    return None


@contextmanager
def translated_errors(path: Path, busy_timeout: float) -> Iterator[None]:
    """Re-raise SQLite environment failures inside the block as ``JournalError``."""
    try:
        yield
    except sqlite3.Error as error:
        translated = translate_error(error, path, busy_timeout)
        if translated is None:
            raise
        raise translated from error


def connect(path: Path, busy_timeout: float, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode, so every transaction starts with an explicit BEGIN."""
    mode = "ro" if read_only else "rwc"
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}",
        uri=True,
        timeout=busy_timeout,
        isolation_level=None,
        # The Journal guards its single connection with a lock, so any thread may use it.
        check_same_thread=False,
    )


def find_damage(path: Path, busy_timeout: float, supported_version: int) -> str | None:
    """Return why the existing file at ``path`` is unusable, or None when it is sound.

    Raises ``JournalNewerSchemaError`` for a file from a newer Gallery Editor. The
    header is read as plain bytes first: SQLite creates -wal and -shm files when it
    opens a WAL database, even read-only, and rewrites an existing -shm file, so a
    newer or foreign file must be recognised before SQLite opens it.
    """
    header = _read_header(path)
    if header:
        if len(header) < SQLITE_HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
            return "file is not a database: it does not start with an SQLite header"
        header_version = int.from_bytes(header[60:64], "big", signed=True)
        if header_version > supported_version:
            raise JournalNewerSchemaError(path, header_version, supported_version)

    try:
        connection = connect(path, busy_timeout, read_only=True)
    except sqlite3.Error as error:
        return _damage_or_raise(error, path, busy_timeout)

    try:
        found_version = read_schema_version(connection)
        if found_version > supported_version:
            raise JournalNewerSchemaError(path, found_version, supported_version)
        rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as error:
        return _damage_or_raise(error, path, busy_timeout)
    finally:
        connection.close()

    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        return "PRAGMA quick_check reported: " + "; ".join(problems[:5])
    return None


def _read_header(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(SQLITE_HEADER_SIZE)
    except OSError as error:
        raise JournalStorageError(
            f"The journal {path} could not be read: {error}. Fix the file's permissions, "
            "then try again.",
            path=path,
        ) from error


def _damage_or_raise(error: sqlite3.Error, path: Path, busy_timeout: float) -> str:
    if is_corruption(error):
        return str(error)
    translated = translate_error(error, path, busy_timeout)
    if translated is None:
        raise error
    raise translated from error


def move_aside(path: Path, reason: str) -> Path | None:
    """Rename the damaged database and its -wal/-shm files and return the database's new path.

    The new name is ``<name>.corrupt-<UTC timestamp>``, with a counter added when that
    name is taken, so an earlier damaged file is never overwritten. Returns None when
    the file vanished first because another process moved it aside.
    """
    # NOTE: two processes that find the same damaged file at once can race here: the
    # slower one may move aside the fresh file the faster one has just created. Nothing
    # is lost, because that file is kept under a .corrupt name too, but it is unexpected.
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 2
    while any(_with_suffix(target, suffix).exists() for suffix in ("", *COMPANION_SUFFIXES)):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1

    try:
        path.rename(target)
    except FileNotFoundError:
        logger.info("Damaged journal %s was already moved aside by another process", path)
        return None
    except OSError as error:
        raise _move_failed(path, target, reason, error) from error

    try:
        for suffix in COMPANION_SUFFIXES:
            companion = _with_suffix(path, suffix)
            if companion.exists():
                companion.rename(_with_suffix(target, suffix))
    except OSError as error:
        raise _move_failed(path, target, reason, error) from error

    logger.warning("Moved damaged journal %s to %s: %s", path, target, reason)
    return target


def _move_failed(path: Path, target: Path, reason: str, error: OSError) -> JournalCorruptError:
    return JournalCorruptError(
        f"The journal {path} is damaged ({reason}) and could not be moved to {target}: "
        f"{error}. Move the file elsewhere by hand, then start Gallery Editor again.",
        path=path,
    )


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def enable_wal(connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Switch the file to WAL mode, retrying while another process holds a lock.

    Switching needs an exclusive lock. A process that opens a brand-new file at the same
    moment as another one can get SQLITE_BUSY here, so retry until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.01
    while True:
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if primary_error_code(error) not in _BUSY_CODES or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
            continue
        if str(mode).lower() != "wal":
            raise JournalStorageError(
                f"The journal {path} could not be switched to WAL mode (SQLite kept "
                f"{mode!r}). Move the data folder to a local disk, then try again.",
                path=path,
            )
        return


def configure(connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Apply the durability settings; synchronous is per connection, so this runs on every open."""
    enable_wal(connection, path, busy_timeout)
    # FULL syncs the WAL on every commit, so a committed edit survives a power cut too.
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")


def open_database(
    folder: Path,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    steps: Sequence[MigrationStep] = MIGRATIONS,
) -> tuple[sqlite3.Connection, Path | None]:
    """Open, repair and migrate ``folder / DATABASE_NAME``.

    Returns the connection and the path a damaged file was moved to (None if nothing
    was moved).
    """
    path = folder / DATABASE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise JournalStorageError(
            f"The journal folder {folder} could not be created: {error}. Choose a data "
            "folder you can write to.",
            path=path,
        ) from error

    recovered_from = None
    if path.exists():
        reason = find_damage(path, busy_timeout, len(steps))
        if reason is not None:
            recovered_from = move_aside(path, reason)

    with translated_errors(path, busy_timeout):
        connection = connect(path, busy_timeout)
        try:
            # Checked again before anything writes, in case a newer Gallery Editor
            # created the file after the probe.
            found_version = read_schema_version(connection)
            if found_version > len(steps):
                raise JournalNewerSchemaError(path, found_version, len(steps))
            configure(connection, path, busy_timeout)
            migrate(connection, path, steps)
        except BaseException:
            connection.close()
            raise
    return connection, recovered_from
