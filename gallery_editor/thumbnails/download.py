"""Download image files from CDN hosts with size, time and scheme limits and no credentials."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass

import httpx

logger = logging.getLogger(__name__)

# HTTP caching is not delegated to hishel: it would store every full-size original
# (up to 50 MB each) when only the thumbnail is kept, and the loader needs to see
# the 304 itself to know that nothing changed. The disk cache stores the ETag and
# Last-Modified of each URL instead, and fetch() sends them as conditions.

_LOOPBACK_NAMES = ("localhost",)
_CHUNK_SIZE = 256 * 1024
_MAX_REDIRECTS = 5


class FetchError(Exception):
    """A download failed; ``reason`` is short text for the user such as "HTTP 404"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A finished download. ``status`` 304 means unchanged, and then ``body`` is None."""

    status: int
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class Validators:
    """The ETag and Last-Modified of a cached version, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


class ImageFetcher:
    """Streamed GETs over one shared httpx.Client that never sends credentials.

    Safe to use from several threads at once. ``deadline`` bounds a whole download
    in seconds, including a server that trickles bytes or stalls mid-body.
    """

    def __init__(
        self,
        max_bytes: int = 50 * 2**20,
        connect_timeout: float = 5,
        read_timeout: float = 10,
        deadline: float = 30,
        max_connections: int = 8,
    ) -> None:
        self.max_bytes = max_bytes
        self.deadline = deadline
        timeout = httpx.Timeout(
            connect=min(connect_timeout, deadline),
            read=min(read_timeout, deadline),
            write=min(read_timeout, deadline),
            pool=min(connect_timeout, deadline),
        )
        # trust_env=False keeps .netrc credentials and proxy settings out, because
        # image hosts get no credentials of any kind.
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=_MAX_REDIRECTS,
            trust_env=False,
            limits=httpx.Limits(max_connections=max_connections),
            event_hooks={"request": [_check_request]},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET ``url``, conditionally when ``validators`` are given; raise FetchError on failure."""
        check_url(url)
        headers = _conditional_headers(validators)
        headers["Accept-Encoding"] = "identity"
        started = time.monotonic()
        try:
            return self._fetch_streamed(url, headers, started)
        except FetchError:
            raise
        except httpx.TooManyRedirects as error:
            raise FetchError("too many redirects") from error
        except httpx.ConnectTimeout as error:
            raise FetchError("connection timed out") from error
        except httpx.TimeoutException as error:
            raise FetchError("download timed out") from error
        except httpx.ConnectError as error:
            raise FetchError(_connect_error_reason(error)) from error
        except httpx.TransportError as error:
            if time.monotonic() - started >= self.deadline:
                raise FetchError("download timed out") from error
            logger.debug("Download of %s failed: %r", url, error)
            raise FetchError("connection lost") from error
        except httpx.InvalidURL as error:
            raise FetchError("invalid URL") from error

    def _fetch_streamed(self, url: str, headers: dict[str, str], started: float) -> FetchResult:
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return _result(response, None)
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            self._check_declared_length(response)
            self._check_encoding(response)
            with _Watchdog(response, started + self.deadline) as watchdog:
                try:
                    body = self._read_body(response, started)
                except httpx.TransportError as error:
                    if watchdog.fired:
                        raise FetchError("download timed out") from error
                    raise
            return _result(response, body)

    def _check_declared_length(self, response: httpx.Response) -> None:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"larger than {_format_size(self.max_bytes)}")

    def _check_encoding(self, response: httpx.Response) -> None:
        # The request asks for identity. Decoding gzip or brotli here would let a
        # small compressed body expand into a huge buffer before the size check.
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError(f"unsupported content encoding {encoding!r}")

    def _read_body(self, response: httpx.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_raw(_CHUNK_SIZE):
            received += len(chunk)
            if received > self.max_bytes:
                raise FetchError(f"larger than {_format_size(self.max_bytes)}")
            if time.monotonic() - started > self.deadline:
                raise FetchError("download timed out")
            chunks.append(chunk)
        return b"".join(chunks)


class _Watchdog:
    """Shut the connection's socket down at the deadline so a blocked read returns at once.

    Checking the clock between chunks alone would let a server that sends a byte
    just before each read timeout hold the thread for a read timeout past the deadline.
    """

    def __init__(self, response: httpx.Response, deadline_at: float) -> None:
        self._response = response
        self._timer = threading.Timer(max(0.0, deadline_at - time.monotonic()), self._fire)
        self._timer.daemon = True
        self.fired = False

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError as error:
            logger.debug("Socket already closed at the download deadline: %s", error)


def check_url(url: str) -> None:
    """Raise FetchError unless ``url`` is https, or plain http to a loopback host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise FetchError("invalid URL") from error
    if parsed.scheme == "https" and parsed.host:
        return
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return
    raise FetchError("insecure URL: plain http is allowed only to this computer")


def _check_request(request: httpx.Request) -> None:
    """Apply the URL rule to every request, redirects included, and drop any credentials."""
    check_url(str(request.url))
    request.headers.pop("Authorization", None)
    request.headers.pop("Cookie", None)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _conditional_headers(validators: Validators | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators is None:
        return headers
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _result(response: httpx.Response, body: bytes | None) -> FetchResult:
    return FetchResult(
        status=response.status_code,
        body=body,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_type=response.headers.get("Content-Type"),
    )


def _connect_error_reason(error: httpx.ConnectError) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host not found"
        cause = cause.__cause__ or cause.__context__
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text:
        return "host not found"
    return "connection failed"


def _format_size(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:g} MB"
    return f"{size} bytes"
