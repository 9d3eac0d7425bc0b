"""Journal schema: the migration steps and the code that applies them in order.

The schema version lives in the database itself, in ``PRAGMA user_version``. Step ``i``
of a migration list upgrades a database from version ``i`` to ``i + 1``, so a fresh
file (version 0) runs every step and the current version is the length of the list.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from gallery_editor.journal.errors import JournalNewerSchemaError

logger = logging.getLogger(__name__)

MigrationStep = Callable[[sqlite3.Connection], None]


def _create_version_1(connection: sqlite3.Connection) -> None:
    # JSON columns contain text made by json.dumps. Timestamps are UTC ISO 8601 strings
    # of one fixed width, so comparing them as text orders them in time.
    statements = (
        """
        CREATE TABLE sessions (
            base_url TEXT NOT NULL,
            product_id TEXT NOT NULL,
            product_name TEXT NOT NULL,
            snapshot_json TEXT NOT NULL,
            state_json TEXT NOT NULL,
            history_json TEXT NOT NULL,
            history_index INTEGER NOT NULL,
            change_count INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (base_url, product_id)
        )
        """,
        """
        CREATE TABLE product_cache (
            base_url TEXT NOT NULL,
            product_id TEXT NOT NULL,
            product_name TEXT NOT NULL,
            product_json TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (base_url, product_id)
        )
        """,
        """
        CREATE TABLE sent_patches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            base_url TEXT NOT NULL,
            product_id TEXT NOT NULL,
            image_id TEXT NOT NULL,
            body_json TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            acknowledged_at TEXT
        )
        """,
        "CREATE INDEX sent_patches_by_product ON sent_patches (base_url, product_id, id)",
    )
    for statement in statements:
        connection.execute(statement)


MIGRATIONS: tuple[MigrationStep, ...] = (_create_version_1,)

SCHEMA_VERSION = len(MIGRATIONS)


def read_schema_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(
    connection: sqlite3.Connection,
    path: Path,
    steps: Sequence[MigrationStep] = MIGRATIONS,
) -> int:
    """Upgrade the database to ``len(steps)`` in one transaction and return the old version.

    The connection must be in autocommit mode (``isolation_level=None``). The version is
    read again after ``BEGIN IMMEDIATE`` because another process may have migrated the
    file since this one opened it. A failing step rolls every step back and re-raises.
    Raises ``JournalNewerSchemaError`` without writing anything if the database is newer.
    """
    target_version = len(steps)
    # Without this shortcut every open would wait for the write lock, so a window could
    # not open while another process holds a long write transaction.
    if read_schema_version(connection) == target_version:
        return target_version

    connection.execute("BEGIN IMMEDIATE")
    try:
        found_version = read_schema_version(connection)
        if found_version > target_version:
            raise JournalNewerSchemaError(path, found_version, target_version)

        for version in range(found_version, target_version):
            logger.info("Migrating journal %s from schema version %d", path, version)
            steps[version](connection)

        if found_version != target_version:
            # PRAGMA does not accept bound parameters; the value is an int we computed.
            connection.execute(f"PRAGMA user_version = {int(target_version)}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return found_version
