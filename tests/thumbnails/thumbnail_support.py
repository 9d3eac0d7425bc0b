"""Helpers for the thumbnail tests: a loopback media server, image makers, the corpus manifest."""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image


@dataclass
class Resource:
    """What the server sends for one path, and how."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = "application/octet-stream"
    send_length: bool = True
    # Send this many bytes, then wait until ``release`` is set or the server stops.
    stall_after: int | None = None
    # Seconds between single bytes; the body trickles instead of arriving at once.
    trickle_interval: float | None = None
    # Hold the response until this event is set (before any byte is sent).
    hold: threading.Event | None = None
    status: int = 200
    location: str | None = None


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class MediaServer:
    """A stdlib HTTP server on 127.0.0.1 in a thread, serving ``resources`` by path."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def add(self, path: str, resource: Resource) -> str:
        self.resources[path] = resource
        return self.url(path)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def request_paths(self) -> list[str]:
        with self._lock:
            return [request.path for request in self.requests]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for resource in self.resources.values():
            if resource.hold is not None:
                resource.hold.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-body on purpose (size limits, deadlines) are expected.
        pass


def _make_handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            server.record(RecordedRequest(self.path, dict(self.headers.items())))
            resource = server.resources.get(self.path)
            if resource is None:
                self._send_empty(404)
                return
            if resource.hold is not None:
                resource.hold.wait(30)
            if resource.status != 200:
                self._send_empty(resource.status, resource.location)
                return
            if self._not_modified(resource):
                self._send_empty(304, validators=resource)
                return
            self._send_body(resource)

        def _not_modified(self, resource: Resource) -> bool:
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None and resource.etag is not None:
                return if_none_match == resource.etag
            if_modified_since = self.headers.get("If-Modified-Since")
            return if_modified_since is not None and if_modified_since == resource.last_modified

        def _send_empty(self, status: int, location: str | None = None, validators: Resource | None = None) -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            if validators is not None:
                self._send_validators(validators)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send_validators(self, resource: Resource) -> None:
            if resource.etag:
                self.send_header("ETag", resource.etag)
            if resource.last_modified:
                self.send_header("Last-Modified", resource.last_modified)

        def _send_body(self, resource: Resource) -> None:
            self.send_response(200)
            self.send_header("Content-Type", resource.content_type)
            self._send_validators(resource)
            if resource.send_length:
                self.send_header("Content-Length", str(len(resource.body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                self._write_body(resource)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _write_body(self, resource: Resource) -> None:
            if resource.trickle_interval is not None:
                for index in range(len(resource.body)):
                    if server.stopping.wait(resource.trickle_interval):
                        return
                    self.wfile.write(resource.body[index : index + 1])
                    self.wfile.flush()
                return
            if resource.stall_after is not None:
                self.wfile.write(resource.body[: resource.stall_after])
                self.wfile.flush()
                server.stopping.wait(30)
                return
            self.wfile.write(resource.body)

    return Handler


def make_jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40), **save_options: object) -> bytes:
    """Encode a JPEG with a gradient so that scaling and orientation are visible."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), colour)
    image = Image.blend(image, tint, 0.5)
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": 85}
    options.update(save_options)
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def make_png(image: Image.Image, **save_options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **save_options)
    return buffer.getvalue()


@dataclass(frozen=True)
class ManifestRow:
    path: str
    opens: str
    oriented_width: int | None
    oriented_height: int | None
    width: int | None
    height: int | None


def read_manifest(corpus: Path) -> list[ManifestRow]:
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    return [
        ManifestRow(
            path=row["path"],
            opens=row["opens"],
            oriented_width=_optional_int(row["oriented_width"]),
            oriented_height=_optional_int(row["oriented_height"]),
            width=_optional_int(row["width"]),
            height=_optional_int(row["height"]),
        )
        for row in rows
    ]


def _optional_int(value: str) -> int | None:
    return int(value) if value else None
