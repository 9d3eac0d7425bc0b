"""Tests of ImageFetcher against a loopback HTTP server: limits, deadlines, 304s, credentials."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from thumbnail_support import MediaServer, Resource

from gallery_editor.thumbnails.download import (
    FetchError,
    ImageFetcher,
    Validators,
    check_url,
)


@pytest.fixture
def fetcher() -> Iterator[ImageFetcher]:
    with ImageFetcher(max_bytes=1000, connect_timeout=2, read_timeout=2, deadline=1.5) as instance:
        yield instance


def test_fetch_returns_body_and_validators(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add(
        "/a.jpg", Resource(b"x" * 600, etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT", content_type="image/jpeg")
    )
    result = fetcher.fetch(url)
    assert result.status == 200
    assert result.body == b"x" * 600
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 May 2024 10:00:00 GMT"
    assert result.content_type == "image/jpeg"


def test_fetch_sends_conditions_and_gets_304(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add("/a.jpg", Resource(b"x" * 10, etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT"))
    result = fetcher.fetch(url, Validators(etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT"))
    assert result.status == 304
    assert result.body is None
    headers = media_server.requests_for("/a.jpg")[0].headers
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Wed, 01 May 2024 10:00:00 GMT"


def test_fetch_gets_new_body_after_change(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add("/a.jpg", Resource(b"new", etag='"v2"'))
    result = fetcher.fetch(url, Validators(etag='"v1"'))
    assert result.status == 200
    assert result.body == b"new"
    assert result.etag == '"v2"'


def test_fetch_sends_no_credentials(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add("/a.jpg", Resource(b"x"))
    fetcher.fetch(url)
    headers = {name.lower() for name in media_server.requests_for("/a.jpg")[0].headers}
    assert "authorization" not in headers
    assert "cookie" not in headers


def test_fetch_rejects_declared_length_over_limit(media_server: MediaServer) -> None:
    url = media_server.add("/big.jpg", Resource(b"x" * 3 * 2**20))
    with ImageFetcher(max_bytes=2**20) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.reason == "larger than 1 MB"


def test_fetch_rejects_streamed_body_over_limit(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add("/big.jpg", Resource(b"x" * 5000, send_length=False))
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.reason == "larger than 1000 bytes"


def test_fetch_times_out_on_stalled_body(media_server: MediaServer) -> None:
    url = media_server.add("/stall.jpg", Resource(b"x" * 500, stall_after=100))
    with ImageFetcher(read_timeout=10, deadline=1.0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(url)
        elapsed = time.monotonic() - started
    assert caught.value.reason == "download timed out"
    assert elapsed < 2.5


def test_fetch_deadline_stops_trickle(media_server: MediaServer) -> None:
    # Each byte arrives well inside the read timeout, so only the deadline can stop it.
    url = media_server.add("/trickle.jpg", Resource(b"x" * 200, trickle_interval=0.1))
    with ImageFetcher(read_timeout=5, deadline=1.0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(url)
        elapsed = time.monotonic() - started
    assert caught.value.reason == "download timed out"
    assert elapsed < 2.5


def test_fetch_reports_http_status(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(media_server.url("/missing.jpg"))
    assert caught.value.reason == "HTTP 404"


def test_fetch_reports_connection_refused(fetcher: ImageFetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(f"http://127.0.0.1:{port}/a.jpg")
    assert caught.value.reason == "connection refused"


@pytest.mark.parametrize(
    "url",
    ["http://cdn.example.com/a.jpg", "http://10.0.0.1/a.jpg", "ftp://127.0.0.1/a.jpg", "file:///etc/passwd"],
)
def test_check_url_rejects_insecure_urls(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url)
    assert caught.value.reason.startswith("insecure URL")


@pytest.mark.parametrize(
    "url", ["https://cdn.example.com/a.jpg", "http://127.0.0.1:8000/a.jpg", "http://localhost/a.jpg", "http://[::1]/a.jpg"]
)
def test_check_url_accepts_https_and_loopback(url: str) -> None:
    check_url(url)


def test_fetch_rejects_redirect_to_insecure_host(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    url = media_server.add("/moved.jpg", Resource(b"", status=302, location="http://cdn.example.com/a.jpg"))
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.reason.startswith("insecure URL")


def test_fetch_follows_loopback_redirect(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    media_server.add("/real.jpg", Resource(b"image"))
    url = media_server.add("/moved.jpg", Resource(b"", status=302, location=media_server.url("/real.jpg")))
    assert fetcher.fetch(url).body == b"image"


def test_fetch_is_safe_across_threads(media_server: MediaServer, fetcher: ImageFetcher) -> None:
    urls = [media_server.add(f"/{index}.jpg", Resource(bytes([index]) * 100)) for index in range(16)]
    results: dict[str, bytes | None] = {}

    def fetch(url: str) -> None:
        results[url] = fetcher.fetch(url).body

    threads = [threading.Thread(target=fetch, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [results[url] for url in urls] == [bytes([index]) * 100 for index in range(16)]
