"""Disk cache of finished thumbnails, URL validators and decode failures, with LRU eviction."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import struct
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Thumbnail files are raw RGBA behind a small header. PNG at compress_level=1 made
# photo thumbnails only about a third smaller but cost several milliseconds per
# encode and decode, while a raw read is a single memcpy-speed read; the
# benchmark in benchmarks/thumbnails.py records both figures.
_MAGIC = b"GETN"
_FORMAT_VERSION = 1
# magic, version, width, height, payload length, CRC-32 of the payload
_HEADER = struct.Struct("<4sBxxxIIII")
_FILE_SUFFIX = ".rgba"
_MAX_FAILURES = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS thumbnails (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    validator TEXT NOT NULL,
    edge INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS thumbnails_by_last_used ON thumbnails (last_used);
CREATE INDEX IF NOT EXISTS thumbnails_by_url ON thumbnails (url);
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    validator TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT NOT NULL,
    validator TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (url, validator)
);
"""


@dataclass(frozen=True, slots=True)
class CachedThumbnail:
    """A stored thumbnail: tightly packed RGBA8888 with straight alpha."""

    width: int
    height: int
    rgba: bytes


@dataclass(frozen=True, slots=True)
class StoredValidators:
    """The HTTP validators last seen for a URL and the cache key derived from them."""

    etag: str | None
    last_modified: str | None
    validator: str


def make_validator(etag: str | None, last_modified: str | None, body: bytes | None) -> str:
    """Return the cache key part that identifies one version of an image.

    The ETag is preferred, then Last-Modified. A server that sends neither gets
    the SHA-256 of the body, so a changed image still gets a new key.
    """
    if etag:
        return f"etag:{etag}"
    if last_modified:
        return f"last-modified:{last_modified}"
    if body is None:
        raise ValueError("a body is required to derive a validator when the response has no ETag or Last-Modified")
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


class ThumbnailDiskCache:
    """Thumbnails keyed by (URL, validator, edge) in files named by hash, with a SQLite index.

    Safe to share between threads. Writes go to a temporary file that os.replace()
    moves into place, and each file carries a CRC-32, so a crash mid-write leaves
    either no entry or one that is detected as corrupt, removed and rebuilt.
    """

    def __init__(self, folder: Path, max_bytes: int = 512 * 2**20) -> None:
        if max_bytes < 1:
            raise ValueError(f"cache size limit must be positive, got {max_bytes} bytes")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._files = self.folder / "thumbnails"
        self._files.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.folder / "index.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._remove_orphan_files()
        self._total_bytes = self._sum_sizes()
        logger.info("Opened thumbnail cache %s (%d bytes in use)", self.folder, self._total_bytes)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._total_bytes

    # Thumbnails

    def get(self, url: str, validator: str, edge: int) -> CachedThumbnail | None:
        """Return the stored thumbnail, or None when missing or corrupt (a corrupt one is removed)."""
        key = _entry_key(url, validator, edge)
        with self._lock:
            row = self._db.execute(
                "SELECT file_name FROM thumbnails WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE thumbnails SET last_used = ? WHERE key = ?", (time.time(), key)
            )
        thumbnail = self._read_file(self._files / row[0])
        if thumbnail is None:
            logger.warning("Removing corrupt thumbnail cache entry %s for %s", row[0], url)
            self._remove_entry(key)
        return thumbnail

    def put(self, url: str, validator: str, edge: int, width: int, height: int, rgba: bytes) -> None:
        """Store a thumbnail atomically, then evict least recently used entries over the limit."""
        if len(rgba) != width * height * 4:
            raise ValueError(
                f"RGBA buffer has {len(rgba)} bytes but {width}x{height} needs {width * height * 4}"
            )
        key = _entry_key(url, validator, edge)
        file_name = hashlib.sha256(key.encode()).hexdigest() + _FILE_SUFFIX
        header = _HEADER.pack(_MAGIC, _FORMAT_VERSION, width, height, len(rgba), zlib.crc32(rgba))
        self._write_atomically(self._files / file_name, header, rgba)
        size = _HEADER.size + len(rgba)
        with self._lock:
            old = self._db.execute("SELECT size FROM thumbnails WHERE key = ?", (key,)).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO thumbnails VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, url, validator, edge, file_name, size, time.time()),
            )
            self._total_bytes += size - (old[0] if old else 0)
        self._evict()

    def remove_other_versions(self, url: str, validator: str) -> None:
        """Remove thumbnails and failures of ``url`` that belong to another validator."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM thumbnails WHERE url = ? AND validator != ?", (url, validator)
            ).fetchall()
            self._db.execute(
                "DELETE FROM failures WHERE url = ? AND validator != ?", (url, validator)
            )
        for (key,) in rows:
            self._remove_entry(key)

    # Validators

    def get_validators(self, url: str) -> StoredValidators | None:
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified, validator FROM validators WHERE url = ?", (url,)
            ).fetchone()
        return StoredValidators(*row) if row else None

    def put_validators(self, url: str, validators: StoredValidators) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?)",
                (url, validators.etag, validators.last_modified, validators.validator),
            )

    # Failures

    def get_failure(self, url: str, validator: str) -> str | None:
        """Return the reason a decode of this version of ``url`` failed before, if it did."""
        with self._lock:
            row = self._db.execute(
                "SELECT reason FROM failures WHERE url = ? AND validator = ?", (url, validator)
            ).fetchone()
        return row[0] if row else None

    def put_failure(self, url: str, validator: str, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                (url, validator, reason, time.time()),
            )
            # Bound the table: a catalog with many broken files must not grow it forever.
            self._db.execute(
                "DELETE FROM failures WHERE rowid NOT IN "
                "(SELECT rowid FROM failures ORDER BY recorded_at DESC LIMIT ?)",
                (_MAX_FAILURES,),
            )

    # Steps

    def _read_file(self, path: Path) -> CachedThumbnail | None:
        try:
            content = path.read_bytes()
        except OSError as error:
            logger.debug("Cannot read thumbnail cache file %s: %s", path, error)
            return None
        if len(content) < _HEADER.size:
            return None
        magic, version, width, height, length, crc = _HEADER.unpack_from(content)
        payload = content[_HEADER.size :]
        if magic != _MAGIC or version != _FORMAT_VERSION:
            return None
        if length != len(payload) or length != width * height * 4:
            return None
        if zlib.crc32(payload) != crc:
            return None
        return CachedThumbnail(width, height, payload)

    def _write_atomically(self, path: Path, header: bytes, payload: bytes) -> None:
        descriptor, temporary = tempfile.mkstemp(dir=self._files, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(header)
                file.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _remove_entry(self, key: str) -> None:
        with self._lock:
            row = self._db.execute(
                "SELECT file_name, size FROM thumbnails WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM thumbnails WHERE key = ?", (key,))
            self._total_bytes -= row[1]
        (self._files / row[0]).unlink(missing_ok=True)

    def _evict(self) -> None:
        while True:
            with self._lock:
                if self._total_bytes <= self.max_bytes:
                    return
                rows = self._db.execute(
                    "SELECT key FROM thumbnails ORDER BY last_used LIMIT 16"
                ).fetchall()
            if not rows:
                return
            for (key,) in rows:
                self._remove_entry(key)
                if self.total_bytes <= self.max_bytes:
                    return

    def _sum_sizes(self) -> int:
        with self._lock:
            (total,) = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM thumbnails").fetchone()
        return int(total)

    def _remove_orphan_files(self) -> None:
        """Delete files no index row names: temporary files and files of a write cut short.

        Files younger than a minute are kept, because another app instance sharing
        the folder may be writing them right now.
        """
        with self._lock:
            known = {name for (name,) in self._db.execute("SELECT file_name FROM thumbnails")}
        cutoff = time.time() - 60
        for path in self._files.iterdir():
            if path.name in known:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError as error:
                logger.debug("Cannot remove orphan cache file %s: %s", path, error)


def _entry_key(url: str, validator: str, edge: int) -> str:
    return f"{edge}\n{validator}\n{url}"
