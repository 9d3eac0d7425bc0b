"""Tests of fetch_and_decode(), run in this process against a loopback media server."""

from __future__ import annotations

from thumbnail_support import MediaServer, Resource, make_jpeg

from gallery_editor.thumbnails.download import Validators
from gallery_editor.thumbnails.remote import FetchLimits, fetch_and_decode

LIMITS = FetchLimits(max_bytes=2**20, connect_timeout=2, read_timeout=2, deadline=3)


def test_remote_decodes_new_image(media_server: MediaServer) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(400, 200), etag='"1"'))
    result = fetch_and_decode(url, None, None, 100, LIMITS)
    assert result.fetch_error is None
    assert result.decode_error is None
    assert result.response is not None
    assert (result.response.status, result.response.etag, result.response.validator) == (200, '"1"', 'etag:"1"')
    assert result.thumbnail is not None
    assert (result.thumbnail.width, result.thumbnail.height) == (100, 50)
    assert not result.unchanged


def test_remote_reports_not_modified(media_server: MediaServer) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(40, 20), etag='"1"'))
    result = fetch_and_decode(url, Validators(etag='"1"'), 'etag:"1"', 100, LIMITS)
    assert result.unchanged
    assert result.response is not None
    assert result.response.status == 304
    assert result.thumbnail is None


def test_remote_skips_decode_of_known_body(media_server: MediaServer) -> None:
    # Without validators the server always answers 200; the body hash shows nothing changed.
    body = make_jpeg(40, 20)
    url = media_server.add("/a.jpg", Resource(body))
    first = fetch_and_decode(url, None, None, 100, LIMITS)
    assert first.response is not None
    assert first.response.validator is not None
    assert first.response.validator.startswith("sha256:")
    second = fetch_and_decode(url, Validators(), first.response.validator, 100, LIMITS)
    assert second.unchanged
    assert second.thumbnail is None


def test_remote_reports_fetch_errors(media_server: MediaServer) -> None:
    big = media_server.add("/big.bin", Resource(b"x" * (2**20 + 1)))
    missing = media_server.url("/missing.jpg")
    assert fetch_and_decode(big, None, None, 100, LIMITS).fetch_error == "larger than 1 MB"
    assert fetch_and_decode(missing, None, None, 100, LIMITS).fetch_error == "HTTP 404"
    insecure = fetch_and_decode("http://example.com/a.jpg", None, None, 100, LIMITS)
    assert insecure.fetch_error == "insecure URL: plain http is allowed only to this computer"
    assert insecure.response is None


def test_remote_reports_decode_errors(media_server: MediaServer) -> None:
    url = media_server.add("/page.jpg", Resource(b"<html>gone</html>", last_modified="Wed, 01 May 2024 10:00:00 GMT"))
    result = fetch_and_decode(url, None, None, 100, LIMITS)
    assert result.decode_error == "not an image"
    assert result.response is not None
    assert result.response.validator == "last-modified:Wed, 01 May 2024 10:00:00 GMT"


def test_remote_sends_no_credentials(media_server: MediaServer) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(40, 20)))
    fetch_and_decode(url, None, None, 100, LIMITS)
    headers = {name.lower() for name in media_server.requests_for("/a.jpg")[0].headers}
    assert "authorization" not in headers
    assert "cookie" not in headers
