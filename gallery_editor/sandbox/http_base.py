"""HTTP/1.1 keep-alive server and request-handler plumbing shared by the API and media ports."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gallery_editor.sandbox.server import SandboxServer

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class RequestBodyError(Exception):
    """Error raised for a request body that cannot be read: too large (413) or malformed (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SandboxHttpServer(ThreadingHTTPServer):
    """Threading HTTP server bound to one loopback port of a sandbox."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: SandboxServer,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sandbox = sandbox
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            # Clients that time out or hang up (as tests of slow faults do) are not server errors.
            logger.debug("Sandbox client %s went away: %s", client_address, error)
            return
        logger.exception("Sandbox request from %s failed", client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, a reverse DNS lookup that can take
        # seconds; the sandbox only needs the numeric address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Base handler: keep-alive, body reading, response writing and request logging."""

    protocol_version = "HTTP/1.1"
    server_version = "KelviqSandbox/1.0"
    # Idle keep-alive connections are closed after this many seconds without a request.
    timeout = 120
    port_label = "api"
    server: SandboxHttpServer

    def setup(self) -> None:
        super().setup()
        self.sandbox.register_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox.unregister_connection(self.connection)

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        logger.debug("%s port %s: " + format, self.port_label, self.client_address[0], *args)

    def read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked) so keep-alive stays in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise RequestBodyError(400, f"invalid Content-Length {length_text[:40]!r}") from None
        if length < 0:
            self.close_connection = True
            raise RequestBodyError(400, f"invalid Content-Length {length}: it must not be negative")
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestBodyError(
                413, f"Content-Length {length} is over the limit of {MAX_BODY_BYTES} bytes"
            )
        return self.rfile.read(length)

    def _read_chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                raise RequestBodyError(400, f"invalid chunk size line {size_line[:40]!r}") from None
            if size == 0:
                # Skip trailer lines up to the blank line that ends the body.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise RequestBodyError(
                    413, f"chunked body is over the limit of {MAX_BODY_BYTES} bytes"
                )
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response; HEAD requests and 204/304 responses carry no body."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304) and body:
            self.wfile.write(body)

    def send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        self.send_body(status, encode_json(payload), "application/json", headers)

    def drop_connection(self) -> None:
        """Close the socket without sending a response, like a proxy that lost the upstream."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError as error:
            logger.debug("Sandbox socket shutdown after a dropped request failed: %s", error)

    def record(
        self, status: int | None, body: object = None, *, include_body: bool = False
    ) -> None:
        """Add the request to the sandbox request log (and its log file, if configured)."""
        entry: dict[str, object] = {
            "port": self.port_label,
            "method": self.command,
            "path": self.path,
            "status": status,
            "authorization": "Authorization" in self.headers,
        }
        if include_body:
            entry["body"] = body
        self.sandbox.record_request(entry)


def encode_json(payload: object) -> bytes:
    return json.dumps(payload).encode("utf-8")
