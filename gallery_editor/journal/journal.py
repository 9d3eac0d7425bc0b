"""The change journal: unsaved edits, offline product cache and sent PATCH records in SQLite."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from gallery_editor.api.parsing import parse_product
from gallery_editor.domain.models import Product, product_to_json
from gallery_editor.journal.database import (
    DATABASE_NAME,
    DEFAULT_BUSY_TIMEOUT,
    format_timestamp,
    open_database,
    parse_timestamp,
    translated_errors,
    utc_now,
)
from gallery_editor.journal.errors import SentPatchNotFoundError
from gallery_editor.journal.records import SentPatch, Session, SessionSummary

logger = logging.getLogger(__name__)


class Journal:
    """One connection to ``folder / "journal.sqlite3"``, safe to share between threads.

    Every write is one ``BEGIN IMMEDIATE`` transaction, committed with
    ``synchronous=FULL`` before the method returns, so it survives a crash of this
    process. Other processes (a second window, the ``apply`` command) may use the same
    folder at the same time: SQLite's own file locks serialize their writes, and a
    writer waits up to ``busy_timeout`` seconds for the lock before raising
    ``JournalBusyError``.

    ``recovered_from`` is the path a damaged database was moved to while opening, or
    None. The UI should tell the user about it.
    """

    def __init__(self, folder: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.folder = Path(folder)
        self.busy_timeout = busy_timeout
        connection, recovered_from = open_database(self.folder, busy_timeout)
        connection.row_factory = sqlite3.Row
        self.path = self.folder / DATABASE_NAME
        self.recovered_from: Path | None = recovered_from
        self._connection: sqlite3.Connection | None = connection
        self._lock = threading.RLock()

    # Lifecycle

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def closed(self) -> bool:
        return self._connection is None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connection_settings(self) -> dict[str, object]:
        """Return the journal mode, synchronous level and busy timeout in ms in force."""
        with self._transaction(write=False) as connection:
            journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
            busy_timeout = connection.execute("PRAGMA busy_timeout").fetchone()[0]
        # PRAGMA synchronous returns a number; 2 is FULL.
        levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return {
            "journal_mode": str(journal_mode).lower(),
            "synchronous": levels.get(int(synchronous), str(synchronous)),
            "busy_timeout_ms": int(busy_timeout),
        }

    # Sessions

    def save_session(
        self,
        base_url: str,
        product_id: str,
        snapshot: Product,
        state: dict[str, Any],
        history: list[dict[str, Any]],
        history_index: int,
        product_name: str,
        change_count: int | None = None,
    ) -> None:
        """Store or replace the unsaved edits of one product in one transaction.

        ``state`` and ``history`` are stored as JSON and come back from
        ``load_session`` equal to what was given. ``change_count`` is the number of
        pending changes to show in lists; it defaults to ``history_index``.
        """
        _check_key(base_url, product_id)
        _check_snapshot(snapshot, product_id)
        _check_history(history, history_index)
        if change_count is None:
            change_count = history_index
        if change_count < 0:
            raise ValueError(f"change_count must be 0 or more, got {change_count}")
        snapshot_json = _encode_product(snapshot)
        state_json = _encode_json(state, "state", dict)
        history_json = _encode_json(history, "history", list)

        now = format_timestamp(utc_now())
        with self._transaction(write=True) as connection:
            connection.execute(
                """
                INSERT INTO sessions (base_url, product_id, product_name, snapshot_json,
                    state_json, history_json, history_index, change_count, created_at,
                    updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (base_url, product_id) DO UPDATE SET
                    product_name = excluded.product_name,
                    snapshot_json = excluded.snapshot_json,
                    state_json = excluded.state_json,
                    history_json = excluded.history_json,
                    history_index = excluded.history_index,
                    change_count = excluded.change_count,
                    updated_at = excluded.updated_at
                """,
                (
                    base_url,
                    product_id,
                    product_name,
                    snapshot_json,
                    state_json,
                    history_json,
                    history_index,
                    change_count,
                    now,
                    now,
                ),
            )

    def load_session(self, base_url: str, product_id: str) -> Session | None:
        """Return the saved session of one product, or None if it has none."""
        with self._transaction(write=False) as connection:
            row = connection.execute(
                "SELECT * FROM sessions WHERE base_url = ? AND product_id = ?",
                (base_url, product_id),
            ).fetchone()
        if row is None:
            return None
        return Session(
            base_url=row["base_url"],
            product_id=row["product_id"],
            product_name=row["product_name"],
            snapshot=_decode_product(row["snapshot_json"]),
            state=json.loads(row["state_json"]),
            history=json.loads(row["history_json"]),
            history_index=int(row["history_index"]),
            change_count=int(row["change_count"]),
            created_at=parse_timestamp(row["created_at"]),
            updated_at=parse_timestamp(row["updated_at"]),
        )

    def pending_sessions(self, base_url: str | None = None) -> list[SessionSummary]:
        """List saved sessions, newest change first, for one API base URL or for all."""
        query = "SELECT base_url, product_id, product_name, change_count, updated_at FROM sessions"
        parameters: tuple[str, ...] = ()
        if base_url is not None:
            query += " WHERE base_url = ?"
            parameters = (base_url,)
        query += " ORDER BY updated_at DESC, base_url, product_id"

        with self._transaction(write=False) as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [
            SessionSummary(
                base_url=row["base_url"],
                product_id=row["product_id"],
                product_name=row["product_name"],
                change_count=int(row["change_count"]),
                updated_at=parse_timestamp(row["updated_at"]),
            )
            for row in rows
        ]

    def discard_session(self, base_url: str, product_id: str) -> None:
        """Delete the saved session of one product.

        Its sent-PATCH records stay until ``clear_sent``.
        """
        with self._transaction(write=True) as connection:
            connection.execute(
                "DELETE FROM sessions WHERE base_url = ? AND product_id = ?",
                (base_url, product_id),
            )

    # Offline product cache

    def cache_product(self, base_url: str, product: Product) -> None:
        """Store or replace the cached copy of a product, fetched now."""
        _check_key(base_url, product.id)
        product_json = _encode_product(product)
        now = format_timestamp(utc_now())
        with self._transaction(write=True) as connection:
            connection.execute(
                """
                INSERT INTO product_cache (base_url, product_id, product_name, product_json,
                    fetched_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (base_url, product_id) DO UPDATE SET
                    product_name = excluded.product_name,
                    product_json = excluded.product_json,
                    fetched_at = excluded.fetched_at
                """,
                (base_url, product.id, product.name, product_json, now),
            )

    def cached_product(
        self, base_url: str, product_id: str
    ) -> tuple[Product, datetime] | None:
        """Return the cached product and when it was fetched, or None if it is not cached."""
        with self._transaction(write=False) as connection:
            row = connection.execute(
                "SELECT product_json, fetched_at FROM product_cache "
                "WHERE base_url = ? AND product_id = ?",
                (base_url, product_id),
            ).fetchone()
        if row is None:
            return None
        return _decode_product(row["product_json"]), parse_timestamp(row["fetched_at"])

    def cached_products(self, base_url: str) -> list[tuple[Product, datetime]]:
        """Return every cached product of one API base URL, sorted by name and then id."""
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT product_json, fetched_at FROM product_cache WHERE base_url = ? "
                "ORDER BY product_name COLLATE NOCASE, product_name, product_id",
                (base_url,),
            ).fetchall()
        return [
            (_decode_product(row["product_json"]), parse_timestamp(row["fetched_at"]))
            for row in rows
        ]

    # Sent and acknowledged PATCH requests

    def record_sent(
        self, base_url: str, product_id: str, image_id: str, body: dict[str, Any]
    ) -> int:
        """Record a PATCH request before it is sent and return the record's id."""
        _check_key(base_url, product_id)
        if not image_id:
            raise ValueError("image_id must be a non-empty string, got an empty value")
        body_json = _encode_json(body, "PATCH body", dict)
        now = format_timestamp(utc_now())
        with self._transaction(write=True) as connection:
            cursor = connection.execute(
                "INSERT INTO sent_patches (base_url, product_id, image_id, body_json, sent_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (base_url, product_id, image_id, body_json, now),
            )
            sent_id = cursor.lastrowid
        assert sent_id is not None
        return sent_id

    def record_acknowledged(self, sent_id: int, new_snapshot: Product) -> None:
        """Mark a sent PATCH as acknowledged and store ``new_snapshot`` in its session.

        Both happen in one transaction, so after a crash the session's snapshot and the
        acknowledged records agree. The product cache is not touched. Without a saved
        session only the record changes. Raises ``SentPatchNotFoundError`` when the
        record was cleared.
        """
        snapshot_json = _encode_product(new_snapshot)
        now = format_timestamp(utc_now())
        with self._transaction(write=True) as connection:
            row = connection.execute(
                "SELECT base_url, product_id FROM sent_patches WHERE id = ?", (sent_id,)
            ).fetchone()
            if row is None:
                raise SentPatchNotFoundError(sent_id, self.path)
            _check_snapshot(new_snapshot, row["product_id"])

            # A repeated acknowledgement keeps the time of the first one.
            connection.execute(
                "UPDATE sent_patches SET acknowledged_at = COALESCE(acknowledged_at, ?) "
                "WHERE id = ?",
                (now, sent_id),
            )
            connection.execute(
                "UPDATE sessions SET snapshot_json = ?, updated_at = ? "
                "WHERE base_url = ? AND product_id = ?",
                (snapshot_json, now, row["base_url"], row["product_id"]),
            )

    def unacknowledged(self, base_url: str, product_id: str) -> list[SentPatch]:
        """Return the PATCH requests recorded as sent but never acknowledged, oldest first."""
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT * FROM sent_patches WHERE base_url = ? AND product_id = ? "
                "AND acknowledged_at IS NULL ORDER BY id",
                (base_url, product_id),
            ).fetchall()
        return [_sent_patch_from_row(row) for row in rows]

    def sent_values(self, base_url: str, product_id: str) -> dict[str, dict[str, Any]]:
        """Merge the fields of every recorded PATCH per image id, later requests winning.

        Covers acknowledged and unacknowledged requests since the last ``clear_sent``,
        so after a crash the caller can tell its own writes from other people's changes.
        """
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT image_id, body_json FROM sent_patches "
                "WHERE base_url = ? AND product_id = ? ORDER BY id",
                (base_url, product_id),
            ).fetchall()
        merged: dict[str, dict[str, Any]] = {}
        for row in rows:
            merged.setdefault(row["image_id"], {}).update(json.loads(row["body_json"]))
        return merged

    def clear_sent(self, base_url: str, product_id: str) -> None:
        """Delete every sent-PATCH record of one product."""
        with self._transaction(write=True) as connection:
            connection.execute(
                "DELETE FROM sent_patches WHERE base_url = ? AND product_id = ?",
                (base_url, product_id),
            )

    # Transactions

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction, taking the write lock first when ``write``.

        A write starts with BEGIN IMMEDIATE: a deferred transaction that later needs the
        write lock can fail at once with SQLITE_BUSY in WAL mode, without waiting.
        """
        with self._lock, translated_errors(self.path, self.busy_timeout):
            connection = self._require_open()
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                self._rollback(connection)
                raise

    def _rollback(self, connection: sqlite3.Connection) -> None:
        if not connection.in_transaction:
            return
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            # The error that got us here is the one worth raising.
            logger.warning("Rollback failed on journal %s", self.path, exc_info=True)

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError(f"The journal {self.path} is closed; open a new Journal to use it")
        return self._connection


def _check_key(base_url: str, product_id: str) -> None:
    if not base_url:
        raise ValueError("base_url must be a non-empty API base URL, got an empty value")
    if not product_id:
        raise ValueError("product_id must be a non-empty product id, got an empty value")


def _check_snapshot(snapshot: Product, product_id: str) -> None:
    if snapshot.id != product_id:
        raise ValueError(
            f"The snapshot is of product {snapshot.id!r}, not of product {product_id!r}; "
            "pass the snapshot of the product the edits belong to"
        )


def _check_history(history: list[dict[str, Any]], history_index: int) -> None:
    if not 0 <= history_index <= len(history):
        raise ValueError(
            f"history_index must be between 0 and {len(history)} (the history length), "
            f"got {history_index}"
        )
    for position, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise TypeError(
                f"history[{position}] must be a dict, got {type(entry).__name__}"
            )


def _encode_json(value: object, what: str, expected_type: type) -> str:
    """Encode ``value`` as JSON text and check that decoding gives an equal value back."""
    if not isinstance(value, expected_type):
        raise TypeError(f"{what} must be a {expected_type.__name__}, got {type(value).__name__}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{what} cannot be stored as JSON: {error}. Use only dicts with string keys, "
            "lists, strings, finite numbers, booleans and None."
        ) from None
    # Tuples and non-string keys encode without error but come back as lists and
    # strings; the journal promises to return exactly what it was given.
    if json.loads(text) != value:
        raise ValueError(
            f"{what} would not come back unchanged from JSON: it contains tuples or "
            "non-string dict keys. Use lists and string keys."
        )
    return text


def _encode_product(product: Product) -> str:
    return json.dumps(product_to_json(product), ensure_ascii=False, separators=(",", ":"))


def _decode_product(text: str) -> Product:
    return parse_product(json.loads(text))


def _sent_patch_from_row(row: sqlite3.Row) -> SentPatch:
    acknowledged_at = row["acknowledged_at"]
    return SentPatch(
        id=int(row["id"]),
        base_url=row["base_url"],
        product_id=row["product_id"],
        image_id=row["image_id"],
        body=json.loads(row["body_json"]),
        sent_at=parse_timestamp(row["sent_at"]),
        acknowledged_at=None if acknowledged_at is None else parse_timestamp(acknowledged_at),
    )
