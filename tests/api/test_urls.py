"""Tests of base URL validation, origins and media URL resolution."""

from __future__ import annotations

import pytest

from gallery_editor.api import (
    DEFAULT_MEDIA_URL,
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    KelviqClient,
    validate_base_url,
)
from gallery_editor.api.urls import environment_name, format_origin, resolve_image_url, validate_media_url

pytestmark = pytest.mark.timeout(10)


def test_constants() -> None:
    """The documented hosts; the sandbox is the default environment."""
    assert SANDBOX_BASE_URL == "https://sandboxapi.kelviq.com/api/v1"
    assert PRODUCTION_BASE_URL == "https://api.kelviq.com/api/v1"
    assert DEFAULT_MEDIA_URL == "https://cdn.kelviq.com/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (SANDBOX_BASE_URL, SANDBOX_BASE_URL),
        (PRODUCTION_BASE_URL + "/", PRODUCTION_BASE_URL),
        ("http://127.0.0.1:8765/api/v1", "http://127.0.0.1:8765/api/v1"),
        ("http://127.8.9.10/api/v1/", "http://127.8.9.10/api/v1"),
        ("http://localhost:9/api/v1", "http://localhost:9/api/v1"),
        ("http://LOCALHOST/api/v1", "http://LOCALHOST/api/v1"),
        ("http://[::1]:8080/api/v1", "http://[::1]:8080/api/v1"),
        ("HTTPS://api.example.com/api/v1", "HTTPS://api.example.com/api/v1"),
    ],
)
def test_valid_base_urls(url: str, expected: str) -> None:
    """https anywhere and http on loopback are accepted; the trailing slash is dropped."""
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.kelviq.com/api/v1", "plain http"),
        ("http://192.168.1.10/api/v1", "plain http"),
        ("http://128.0.0.1/api/v1", "plain http"),
        ("http://localhost.example.com/api/v1", "plain http"),
        ("http://[::2]/api/v1", "plain http"),
        ("ftp://api.kelviq.com/api/v1", "not an absolute http(s) URL"),
        ("api.kelviq.com/api/v1", "not an absolute http(s) URL"),
        ("https:///api/v1", "not an absolute http(s) URL"),
        ("", "empty"),
        ("   ", "empty"),
        ("https://user:secret@api.kelviq.com/api/v1", "user name or password"),
        ("https://api.kelviq.com/api/v1?x=1", "query or fragment"),
        ("https://api.kelviq.com/api/v1#top", "query or fragment"),
        ("https://api.kelviq.com:99999/api/v1", "not a valid URL"),
    ],
)
def test_invalid_base_urls(url: str, fragment: str) -> None:
    """Anything but https, or http on loopback, raises ValueError saying why."""
    with pytest.raises(ValueError, match="base URL") as caught:
        validate_base_url(url)

    assert fragment in str(caught.value)


def test_password_not_echoed() -> None:
    """A password typed into the URL does not reappear in the error message."""
    with pytest.raises(ValueError) as caught:
        validate_base_url("https://user:hunter2@api.kelviq.com/api/v1")

    assert "hunter2" not in str(caught.value)


def test_media_url_gets_trailing_slash() -> None:
    """The media URL ends in '/' so that keys join below its path."""
    assert validate_media_url("http://127.0.0.1:9000/cdn") == "http://127.0.0.1:9000/cdn/"
    with pytest.raises(ValueError, match="media URL"):
        validate_media_url("http://cdn.example.com/")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("media/products/p/i/x.png", "https://cdn.kelviq.com/media/products/p/i/x.png"),
        ("/media/products/p/i/x.png", "https://cdn.kelviq.com/media/products/p/i/x.png"),
        ("//evil.example/x.png", "https://cdn.kelviq.com/evil.example/x.png"),
        ("https://cdn.kelviq.com/media/a.jpg", "https://cdn.kelviq.com/media/a.jpg"),
        ("http://127.0.0.1:5/media/a.jpg", "http://127.0.0.1:5/media/a.jpg"),
        ("HTTPS://Other.example/a.webp", "HTTPS://Other.example/a.webp"),
    ],
)
def test_resolve_image_url(image: str, expected: str) -> None:
    """Absolute http(s) URLs stay unchanged; storage keys join onto the media URL."""
    assert resolve_image_url(image, DEFAULT_MEDIA_URL) == expected


def test_resolve_keeps_media_path_prefix() -> None:
    """A key resolves below the media URL's own path, even with a leading slash."""
    assert resolve_image_url("/media/x.png", "http://127.0.0.1:9/cdn/") == "http://127.0.0.1:9/cdn/media/x.png"


@pytest.mark.parametrize("image", ["", "  ", "file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AA"])
def test_resolve_rejects_other_schemes(image: str) -> None:
    """Empty references and non-http schemes raise ValueError."""
    with pytest.raises(ValueError, match="image reference"):
        resolve_image_url(image, DEFAULT_MEDIA_URL)


def test_client_validates_and_exposes_urls() -> None:
    """The client checks its URLs at construction and reports its base URL and origin."""
    with KelviqClient("http://127.0.0.1:8765/api/v1/", "key", media_url="http://127.0.0.1:8766") as client:
        assert client.base_url == "http://127.0.0.1:8765/api/v1"
        assert client.origin == "http://127.0.0.1:8765"
        assert client.media_url == "http://127.0.0.1:8766/"
        assert client.resolve_image_url("media/a.png") == "http://127.0.0.1:8766/media/a.png"

    with KelviqClient(PRODUCTION_BASE_URL, "key") as client:
        assert client.origin == "https://api.kelviq.com"

    with pytest.raises(ValueError, match="plain http"):
        KelviqClient("http://example.com/api/v1", "key")
    with pytest.raises(ValueError, match="media URL"):
        KelviqClient(SANDBOX_BASE_URL, "key", media_url="http://cdn.example.com/")


@pytest.mark.parametrize("key", ["", "   ", "two words", "line\nbreak", "k\u00e9y"])
def test_client_rejects_bad_key(key: str) -> None:
    """An empty key or one with spaces, control or non-ASCII characters raises ValueError."""
    with pytest.raises(ValueError, match="API key") as caught:
        KelviqClient(SANDBOX_BASE_URL, key)

    if key.strip():
        assert key not in str(caught.value)


def test_repr_omits_key() -> None:
    """The client's repr shows the URLs but never the key."""
    secret = "sk_test_0123456789abcdef"
    with KelviqClient(SANDBOX_BASE_URL, secret) as client:
        text = repr(client)

    assert secret not in text
    assert SANDBOX_BASE_URL in text


def test_environment_names() -> None:
    """Error hints name the environment a base URL points at."""
    assert environment_name(PRODUCTION_BASE_URL) == "Kelviq production"
    assert environment_name(SANDBOX_BASE_URL) == "the Kelviq sandbox"
    assert environment_name("http://127.0.0.1:5/api/v1") == "the local sandbox"
    assert environment_name("https://kelviq.example.org/api/v1") == "the server at https://kelviq.example.org"
    assert format_origin("http://[::1]:80/x") == "http://[::1]"
