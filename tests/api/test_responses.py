"""Unit tests of error text extraction, status mapping and Retry-After parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gallery_editor.api import (
    ApiError,
    AuthenticationError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    ServerError,
    ValidationError,
)
from gallery_editor.api.responses import decode_json, error_for_response, parse_retry_after, server_text

pytestmark = pytest.mark.timeout(10)

SECRET = "sk_test_secret_value_123"


def make_response(status: int, body: object = None, *, text: str | None = None, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1:1/api/v1/catalog/products/")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    if body is None:
        return httpx.Response(status, content=b"", headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def redact(text: str) -> str:
    return text.replace(SECRET, "[API key]")


def map_error(response: httpx.Response) -> ApiError:
    return error_for_response(
        response, method="GET", path="/api/v1/catalog/products/", environment="the local sandbox", redact=redact
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": "D", "message": "M", "error": "E", "name": ["F"]}, "D"),
        ({"message": "M", "error": "E", "name": ["F"]}, "M"),
        ({"status": "error", "message": "Product not found"}, "Product not found"),
        ({"error": "E", "name": ["F"]}, "E"),
        ({"name": ["Too long.", "Bad."], "ordering": ["Negative."]}, "name: Too long."),
        ({"ordering": "Must be an integer."}, "ordering: Must be an integer."),
        ({"detail": ["First.", "Second."]}, "First."),
        (["Only a list."], "Only a list."),
        ({"detail": "", "message": "M"}, "M"),
        ({}, "Bad Request"),
        ({"status": "error"}, "Bad Request"),
    ],
)
def test_server_text_order(body: object, expected: str) -> None:
    """The text comes from detail, message, error, the first field error, then the reason."""
    response = make_response(400, body)

    assert server_text(response, response.json()) == expected


def test_server_text_plain_body_cut() -> None:
    """A non-JSON body becomes its text, cut to 300 characters."""
    response = make_response(500, text="x" * 1000)

    text = server_text(response, None)

    assert len(text) == 300
    assert text.endswith("…")


def test_server_text_html_stripped() -> None:
    """An HTML error page is reduced to its visible text."""
    page = "<html><head><title>T</title><style>p{}</style></head><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"
    response = make_response(502, text=page, **{"Content-Type": "text/html"})

    assert server_text(response, None) == "502 Bad Gateway nginx"


def test_server_text_empty_body_gives_reason() -> None:
    """An empty body gives the HTTP reason phrase."""
    assert server_text(make_response(503), None) == "Service Unavailable"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (301, RedirectError),
        (308, RedirectError),
        (400, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (405, ApiError),
        (409, ValidationError),
        (422, ValidationError),
        (428, ApiError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (505, ServerError),
    ],
)
def test_status_mapping(status: int, kind: type[ApiError]) -> None:
    """Each status maps to its error class, carrying status, method and path."""
    error = map_error(make_response(status, {"detail": "Problem."}))

    assert type(error) is kind
    assert error.status == status
    assert error.method == "GET"
    assert error.path == "/api/v1/catalog/products/"


def test_authentication_message_hints_environment() -> None:
    """A 401 names the environment and says keys of the other one are rejected."""
    error = map_error(make_response(401, {"detail": "Invalid token."}))

    assert error.message.startswith("The local sandbox rejected the API key: Invalid token. ")
    assert "production key is rejected by the sandbox" in error.message


def test_key_redacted_from_server_text() -> None:
    """A server that echoes the key does not get it into the message or field errors."""
    error = map_error(make_response(400, {"detail": f"Bad key {SECRET}", "name": [f"echo {SECRET}"]}))

    assert isinstance(error, ValidationError)
    assert SECRET not in error.message
    assert SECRET not in str(error)
    assert SECRET not in json.dumps(error.field_errors)


def test_validation_field_errors() -> None:
    """Field errors keep every message per field; whole-request keys are left out."""
    error = map_error(make_response(400, {"detail": "Invalid.", "name": ["A.", "B."], "enabled": "C.", "x": [1]}))

    assert isinstance(error, ValidationError)
    assert error.field_errors == {"name": ["A.", "B."], "enabled": ["C."]}
    assert error.message == "Invalid."


def test_redirect_names_location() -> None:
    """A 3xx becomes a RedirectError (a NetworkError) naming where it pointed."""
    error = map_error(make_response(302, Location="https://elsewhere.example/login"))

    assert isinstance(error, RedirectError)
    assert error.location == "https://elsewhere.example/login"
    assert "https://elsewhere.example/login" in error.message


def test_rate_limit_retry_after_seconds() -> None:
    """A 429 carries Retry-After in seconds."""
    error = map_error(make_response(429, {"detail": "Request was throttled."}, **{"Retry-After": "7"}))

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0


def test_retry_after_http_date() -> None:
    """An HTTP date in Retry-After gives the seconds until that moment."""
    now = datetime(2026, 8, 5, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after(header, now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "inf", "Mon, 99 Foo 2026"])
def test_retry_after_invalid(value: str | None) -> None:
    """A missing, negative or unreadable Retry-After gives None."""
    assert parse_retry_after(value) is None


def test_retry_after_fraction() -> None:
    """Fractional seconds are kept."""
    assert parse_retry_after(" 1.5 ") == 1.5


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty body"),
        (b'{"id": "x", "name":', "not valid JSON"),
        (b"<html>oops</html>", "not valid JSON"),
        (b'{"ordering": NaN}', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
    ],
)
def test_decode_json_rejects(content: bytes, fragment: str) -> None:
    """Empty, cut-off, non-JSON and NaN bodies raise InvalidResponseError."""
    response = httpx.Response(200, content=content, request=httpx.Request("GET", "http://127.0.0.1:1/"))

    with pytest.raises(InvalidResponseError, match=fragment) as caught:
        decode_json(response, method="GET", path="/")

    assert caught.value.status == 200


def test_rate_limit_retry_after_http_date() -> None:
    """A 429 whose Retry-After is an HTTP date carries the seconds until that date."""
    moment = datetime.now(UTC) + timedelta(seconds=120)
    response = make_response(429, {"detail": "Request was throttled."}, **{"Retry-After": format_datetime(moment, usegmt=True)})

    error = map_error(response)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after is not None
    assert 110.0 <= error.retry_after <= 120.0
