"""Opening the journal: SQLite settings, migrations, newer schemas and damaged files."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from gallery_editor.journal import (
    DATABASE_NAME,
    SCHEMA_VERSION,
    Journal,
    JournalNewerSchemaError,
    JournalStorageError,
    JournalWriter,
)
from gallery_editor.journal.schema import MIGRATIONS, MigrationStep, migrate
from journal_helpers import API_URL, make_product


def read_pragma(path: Path, name: str) -> object:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


def table_names(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}
    finally:
        connection.close()


def write_works(journal: Journal) -> bool:
    product = make_product("check")
    journal.save_session(API_URL, "check", product, {"ok": True}, [], 0, product.name)
    session = journal.load_session(API_URL, "check")
    return session is not None and session.state == {"ok": True}


# Settings


def test_new_journal_file_location(journal_folder: Path) -> None:
    with Journal(journal_folder) as journal:
        assert journal.path == journal_folder / DATABASE_NAME
        assert journal.path.is_file()
        assert journal.recovered_from is None

    assert read_pragma(journal_folder / DATABASE_NAME, "user_version") == SCHEMA_VERSION


def test_connection_settings_applied(journal: Journal) -> None:
    settings = journal.connection_settings()

    assert settings == {"journal_mode": "wal", "synchronous": "FULL", "busy_timeout_ms": 10000}


def test_wal_mode_persisted_in_file(journal: Journal) -> None:
    header = journal.path.read_bytes()[:20]

    # Bytes 18 and 19 of the header are the read and write format versions: 2 means WAL.
    assert header[18] == 2
    assert header[19] == 2
    assert read_pragma(journal.path, "journal_mode") == "wal"
    assert journal.path.with_name(DATABASE_NAME + "-wal").exists()


def test_busy_timeout_is_configurable(journal_folder: Path) -> None:
    with Journal(journal_folder, busy_timeout=2.5) as journal:
        assert journal.connection_settings()["busy_timeout_ms"] == 2500


def test_unwritable_folder_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(JournalStorageError, match="could not be created"):
        Journal(blocker / "data")


# Migrations


def fake_step(log_table: str, name: str) -> MigrationStep:
    def step(connection: sqlite3.Connection) -> None:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {log_table} (step TEXT)")
        connection.execute(f"INSERT INTO {log_table} VALUES (?)", (name,))

    return step


def failing_step(connection: sqlite3.Connection) -> None:
    raise RuntimeError("step failed on purpose")


def open_raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_migrate_applies_steps_in_order(journal_folder: Path) -> None:
    Journal(journal_folder).close()
    path = journal_folder / DATABASE_NAME
    steps = [*MIGRATIONS, fake_step("log", "second"), fake_step("log", "third")]

    connection = open_raw(path)
    try:
        old_version = migrate(connection, path, steps)
        again = migrate(connection, path, steps)
        applied = [row[0] for row in connection.execute("SELECT step FROM log ORDER BY rowid")]
    finally:
        connection.close()

    assert old_version == SCHEMA_VERSION
    assert again == len(steps)
    assert applied == ["second", "third"]
    assert read_pragma(path, "user_version") == len(steps)


def test_migrate_failure_rolls_back_all_steps(journal_folder: Path) -> None:
    Journal(journal_folder).close()
    path = journal_folder / DATABASE_NAME
    steps = [*MIGRATIONS, fake_step("log", "second"), failing_step]

    connection = open_raw(path)
    try:
        with pytest.raises(RuntimeError, match="on purpose"):
            migrate(connection, path, steps)
        assert not connection.in_transaction
    finally:
        connection.close()

    assert read_pragma(path, "user_version") == SCHEMA_VERSION
    assert "log" not in table_names(path)


def test_migrate_refuses_newer_version(journal_folder: Path) -> None:
    Journal(journal_folder).close()
    path = journal_folder / DATABASE_NAME

    connection = open_raw(path)
    try:
        with pytest.raises(JournalNewerSchemaError):
            migrate(connection, path, MIGRATIONS[:0])
    finally:
        connection.close()

    assert read_pragma(path, "user_version") == SCHEMA_VERSION


def test_open_migrates_version_zero_file(journal_folder: Path) -> None:
    journal_folder.mkdir()
    path = journal_folder / DATABASE_NAME
    connection = open_raw(path)
    connection.execute("CREATE TABLE unrelated (value TEXT)")
    connection.execute("INSERT INTO unrelated VALUES ('kept')")
    connection.close()

    with Journal(journal_folder) as journal:
        assert journal.recovered_from is None
        assert write_works(journal)

    assert read_pragma(path, "user_version") == SCHEMA_VERSION
    assert {"sessions", "product_cache", "sent_patches", "unrelated"} <= table_names(path)


# Newer schema


def make_newer_database(folder: Path, *, wal: bool) -> Path:
    folder.mkdir()
    path = folder / DATABASE_NAME
    connection = open_raw(path)
    if wal:
        connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE future_sessions (payload TEXT)")
    connection.execute("INSERT INTO future_sessions VALUES ('from a newer version')")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    connection.close()
    return path


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_newer_schema_left_untouched(journal_folder: Path, wal: bool) -> None:
    path = make_newer_database(journal_folder, wal=wal)
    original = path.read_bytes()
    files_before = sorted(os.listdir(journal_folder))

    with pytest.raises(JournalNewerSchemaError) as raised:
        Journal(journal_folder)

    assert raised.value.found_version == SCHEMA_VERSION + 5
    assert raised.value.supported_version == SCHEMA_VERSION
    assert str(path) in raised.value.message
    assert path.read_bytes() == original
    assert sorted(os.listdir(journal_folder)) == files_before


def test_writer_raises_newer_schema(journal_folder: Path) -> None:
    path = make_newer_database(journal_folder, wal=False)
    original = path.read_bytes()

    with pytest.raises(JournalNewerSchemaError):
        JournalWriter(journal_folder)

    assert path.read_bytes() == original


# Damaged files


def corrupt_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob(DATABASE_NAME + ".corrupt-*"))


def assert_moved_aside(folder: Path, journal: Journal, original: bytes) -> None:
    moved = journal.recovered_from
    assert moved is not None
    assert moved.parent == folder
    assert moved.name.startswith(DATABASE_NAME + ".corrupt-")
    assert moved.name.endswith("Z")
    assert moved.read_bytes() == original
    assert write_works(journal)


def test_random_bytes_moved_aside(journal_folder: Path) -> None:
    journal_folder.mkdir()
    garbage = random.Random(7).randbytes(64 * 1024)
    (journal_folder / DATABASE_NAME).write_bytes(garbage)
    (journal_folder / (DATABASE_NAME + "-wal")).write_bytes(b"old wal")
    (journal_folder / (DATABASE_NAME + "-shm")).write_bytes(b"old shm")

    with Journal(journal_folder) as journal:
        assert_moved_aside(journal_folder, journal, garbage)
        moved = journal.recovered_from
        assert moved is not None
        assert moved.with_name(moved.name + "-wal").read_bytes() == b"old wal"
        assert moved.with_name(moved.name + "-shm").read_bytes() == b"old shm"


def filled_database(folder: Path) -> bytes:
    with Journal(folder) as journal:
        for index in range(60):
            product = make_product(f"p{index}", image_count=20)
            journal.save_session(API_URL, product.id, product, {}, [], 0, product.name)
    # Closing the last connection checkpoints the WAL into the main file.
    return (folder / DATABASE_NAME).read_bytes()


@pytest.mark.parametrize("keep", [0.001, 0.05, 0.5, 0.95], ids=lambda share: f"keep-{share}")
def test_truncated_database_moved_aside(tmp_path: Path, keep: float) -> None:
    complete = filled_database(tmp_path / "source")
    truncated = complete[: int(len(complete) * keep)]
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / DATABASE_NAME).write_bytes(truncated)

    with Journal(folder) as journal:
        assert_moved_aside(folder, journal, truncated)
        assert journal.load_session(API_URL, "p0") is None


def test_overwritten_pages_moved_aside(tmp_path: Path) -> None:
    damaged = bytearray(filled_database(tmp_path / "source"))
    middle = len(damaged) // 2
    damaged[middle : middle + 8192] = random.Random(3).randbytes(8192)
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / DATABASE_NAME).write_bytes(bytes(damaged))

    with Journal(folder) as journal:
        assert_moved_aside(folder, journal, bytes(damaged))


def test_repeated_damage_keeps_every_copy(journal_folder: Path) -> None:
    journal_folder.mkdir()
    contents = [b"first damaged file" * 100, b"second damaged file" * 100]
    for content in contents:
        (journal_folder / DATABASE_NAME).write_bytes(content)
        Journal(journal_folder).close()

    copies = corrupt_copies(journal_folder)
    assert len(copies) == 2
    assert sorted(copy.read_bytes() for copy in copies) == sorted(contents)


def test_sound_database_not_moved(journal_folder: Path) -> None:
    with Journal(journal_folder) as journal:
        assert write_works(journal)

    with Journal(journal_folder) as reopened:
        assert reopened.recovered_from is None
        assert reopened.load_session(API_URL, "check") is not None
    assert corrupt_copies(journal_folder) == []
