"""Media port of the sandbox: a CDN-like server of picture bytes with ETag and 304 support."""

from __future__ import annotations

import collections
import email.utils
import hashlib
import logging
import mimetypes
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from gallery_editor.sandbox.http_base import RequestBodyError, SandboxRequestHandler
from gallery_editor.sandbox.pictures import (
    CONTENT_TYPES,
    GENERATOR_VERSION,
    PictureSpec,
    render_big_photo,
    render_product_shot,
)

logger = logging.getLogger(__name__)

# Generated pictures are kept in memory up to this many bytes, least recently used dropped first.
MEMORY_CACHE_BYTES = 64 * 1024 * 1024
# Last-Modified of generated pictures: a fixed date, so If-Modified-Since works across restarts.
GENERATED_LAST_MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)
STREAM_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class MediaEntity:
    """Picture response of the media port: bytes in memory or a file streamed from disk."""

    etag: str
    last_modified: datetime
    content_type: str
    length: int
    body: bytes | None = None
    path: Path | None = None


class PictureStore:
    """Draws pictures on first request and caches them: small ones in memory, big photos on disk."""

    def __init__(self, seed: int, cache_dir: Path | None) -> None:
        self._seed = seed
        self._cache_dir = cache_dir
        self._memory: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def etag_for(self, spec: PictureSpec) -> str | None:
        """Return the ETag without drawing the picture, or None for a missing file."""
        if spec.kind == "file":
            stat = _stat_or_none(Path(spec.path or ""))
            if stat is None:
                return None
            return _quoted_hash(f"file:{spec.path}:{stat.st_size}:{stat.st_mtime_ns}")
        return _quoted_hash(f"v{GENERATOR_VERSION}:{self._seed}:{spec.to_json()}")

    def last_modified_for(self, spec: PictureSpec) -> datetime:
        """Return the file's modification time, or a fixed date per generated picture."""
        if spec.kind == "file":
            stat = _stat_or_none(Path(spec.path or ""))
            if stat is not None:
                return datetime.fromtimestamp(int(stat.st_mtime), UTC)
        digest = hashlib.sha256(spec.source.encode("utf-8", "surrogatepass")).digest()
        return GENERATED_LAST_MODIFIED - timedelta(days=digest[0] % 180)

    def entity(self, spec: PictureSpec) -> MediaEntity | None:
        """Return the picture to send, drawing it first if needed; None for a missing file."""
        etag = self.etag_for(spec)
        if etag is None:
            return None
        last_modified = self.last_modified_for(spec)
        if spec.kind == "file":
            path = Path(spec.path or "")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            stat = _stat_or_none(path)
            if stat is None:
                return None
            return MediaEntity(etag, last_modified, content_type, stat.st_size, path=path)
        if spec.kind == "big_photo":
            path = self._big_photo_path(spec, etag)
            return MediaEntity(etag, last_modified, "image/jpeg", path.stat().st_size, path=path)
        body = self._generated_bytes(spec, etag)
        return MediaEntity(etag, last_modified, CONTENT_TYPES[spec.format], len(body), body=body)

    def _generated_bytes(self, spec: PictureSpec, etag: str) -> bytes:
        with self._lock:
            cached = self._memory.get(etag)
            if cached is not None:
                self._memory.move_to_end(etag)
                return cached
            key_lock = self._key_locks.setdefault(etag, threading.Lock())
        # One thread draws a picture while others asking for the same one wait for it.
        with key_lock:
            with self._lock:
                cached = self._memory.get(etag)
            if cached is not None:
                return cached
            body = render_product_shot(self._seed, spec)
            self._remember(etag, body)
        with self._lock:
            self._key_locks.pop(etag, None)
        return body

    def _remember(self, etag: str, body: bytes) -> None:
        with self._lock:
            self._memory[etag] = body
            self._memory_bytes += len(body)
            while self._memory_bytes > MEMORY_CACHE_BYTES and len(self._memory) > 1:
                _, dropped = self._memory.popitem(last=False)
                self._memory_bytes -= len(dropped)

    def _big_photo_path(self, spec: PictureSpec, etag: str) -> Path:
        directory = self._big_photo_dir()
        path = directory / f"photo-{etag.strip(chr(34))}.jpg"
        with self._lock:
            key_lock = self._key_locks.setdefault(str(path), threading.Lock())
        with key_lock:
            if not path.exists():
                logger.info("Sandbox drawing big photo %s into %s", spec.source, path)
                body = render_big_photo(self._seed, spec)
                _write_atomically(path, body)
        return path

    def _big_photo_dir(self) -> Path:
        if self._cache_dir is not None:
            directory = self._cache_dir / "big-photos"
        else:
            directory = (
                Path(tempfile.gettempdir()) / f"gallery-editor-sandbox-{os.getuid()}" / "big-photos"
            )
        directory.mkdir(parents=True, exist_ok=True)
        return directory


class MediaRequestHandler(SandboxRequestHandler):
    """Serves ``/media/products/<pid>/<iid>/<file>`` without authentication, like a CDN."""

    port_label = "media"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._reject_method()

    def do_PUT(self) -> None:
        self._reject_method()

    def do_PATCH(self) -> None:
        self._reject_method()

    def do_DELETE(self) -> None:
        self._reject_method()

    def _reject_method(self) -> None:
        try:
            self.read_body()
        except RequestBodyError as error:
            logger.info("Sandbox media port rejected a request body: %s", error)
        self.record(405)
        self.send_body(
            405, b"Method not allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"}
        )

    def _serve(self) -> None:
        spec = self._find_picture()
        entity = self.sandbox.pictures.entity(spec) if spec is not None else None
        if entity is None:
            self.record(404)
            self.send_body(404, b"Not found\n", "text/plain; charset=utf-8")
            return
        headers = {
            "ETag": entity.etag,
            "Last-Modified": email.utils.format_datetime(entity.last_modified, usegmt=True),
            "Cache-Control": "public, max-age=3600",
        }
        if self._not_modified(entity):
            self.record(304)
            self.send_body(304, b"", None, headers)
            return
        # Logged before sending, so a client that has the response also finds it in the log.
        self.record(200)
        self._send_entity(entity, headers)

    def _find_picture(self) -> PictureSpec | None:
        parts = urlsplit(self.path).path.split("/")
        # ['', 'media', 'products', pid, iid, file]
        if len(parts) != 6 or parts[1] != "media" or parts[2] != "products":
            return None
        return self.sandbox.catalog.find_picture(parts[3], parts[4], unquote(parts[5]))

    def _not_modified(self, entity: MediaEntity) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or entity.etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return entity.last_modified <= since

    def _send_entity(self, entity: MediaEntity, headers: dict[str, str]) -> None:
        if entity.body is not None:
            self.send_body(200, entity.body, entity.content_type, headers)
            return
        assert entity.path is not None
        self.send_response(200)
        self.send_header("Content-Type", entity.content_type)
        self.send_header("Content-Length", str(entity.length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        with entity.path.open("rb") as file:
            _copy_exactly(file, self.wfile, entity.length)


def _copy_exactly(source: BinaryIO, target: BinaryIO, length: int) -> None:
    # Never send more than Content-Length promised, even if the file grew since the stat.
    remaining = length
    while remaining > 0:
        chunk = source.read(min(STREAM_CHUNK_BYTES, remaining))
        if not chunk:
            break
        target.write(chunk)
        remaining -= len(chunk)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _quoted_hash(text: str) -> str:
    return '"' + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + '"'


def _write_atomically(path: Path, body: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
