"""Turn Kelviq HTTP responses into decoded JSON or the matching ``ApiError``."""

from __future__ import annotations

import http
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from gallery_editor.api.errors import (
    ApiError,
    AuthenticationError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    ServerError,
    ValidationError,
)

__all__ = ["decode_json", "error_for_response", "field_errors_of", "parse_retry_after", "server_text"]

# Keys that carry a whole-request message rather than one field's errors, in the order read.
_MESSAGE_KEYS = ("detail", "message", "error")
_NOT_FIELD_KEYS = frozenset({*_MESSAGE_KEYS, "status"})
_VALIDATION_STATUSES = frozenset({400, 409, 422})
_MAX_TEXT_CHARS = 300
_HTML_TAG = re.compile(r"<(head|script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")

Redactor = Callable[[str], str]


def decode_json(response: httpx.Response, *, method: str, path: str) -> object:
    """Decode a success response's body as strict JSON (no NaN or Infinity)."""
    if not response.content:
        raise InvalidResponseError(
            f"The server sent an empty body with HTTP {response.status_code}; expected JSON.",
            status=response.status_code,
            method=method,
            path=path,
        )
    try:
        return json.loads(response.content, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        # JSONDecodeError is a ValueError; its text gives line, column and character offset.
        raise InvalidResponseError(
            f"The response is not valid JSON ({len(response.content)} bytes): {error}.",
            status=response.status_code,
            method=method,
            path=path,
        ) from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def error_for_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    environment: str,
    redact: Redactor,
) -> ApiError:
    """Build the error for a response whose status is not 2xx."""
    status = response.status_code
    body = _try_json(response)
    text = redact(server_text(response, body))
    # The server's text is embedded mid-sentence below, so its final period is dropped.
    clause = text.rstrip(" .")
    subject = environment[:1].upper() + environment[1:]
    context = {"status": status, "method": method, "path": path}

    if 300 <= status < 400:
        location = redact(response.headers.get("Location", ""))[:200] or None
        return RedirectError(
            f"The server responded with a redirect (HTTP {status}) to {location or 'no location'}, "
            "which is not followed. Check that the base URL is exact, including https and the path.",
            location=location,
            **context,
        )
    if status == 401:
        return AuthenticationError(
            f"{subject} rejected the API key: {clause}. Keys belong to one environment, so "
            "a production key is rejected by the sandbox and a sandbox key by production. "
            "Check the key and the base URL in the settings.",
            **context,
        )
    if status == 403:
        return AuthenticationError(
            f"{subject} denied access (HTTP 403): {clause}. Use a Server API key of this "
            "environment (production and sandbox keys differ).",
            **context,
        )
    if status == 404:
        return NotFoundError(text, **context)
    if status in _VALIDATION_STATUSES:
        return ValidationError(text, field_errors=field_errors_of(body, redact), **context)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimitedError(_rate_limit_text(clause, retry_after), retry_after=retry_after, **context)
    if status >= 500:
        return ServerError(f"{subject} failed to handle the request: {clause}. Try again later.", **context)
    return ApiError(f"Unexpected HTTP {status}: {clause}.", **context)


def _rate_limit_text(clause: str, retry_after: float | None) -> str:
    if retry_after is None:
        return f"Too many requests: {clause}."
    return f"Too many requests: {clause}. The server asked to wait {retry_after:.0f} s."


def server_text(response: httpx.Response, body: object | None) -> str:
    """Return the server's explanation of an error.

    Reads ``detail``, then ``message``, then ``error``, then the first field error as
    ``field: msg``; a non-JSON body becomes plain text cut to 300 characters; an empty
    body gives the HTTP reason phrase.
    """
    if isinstance(body, Mapping):
        for key in _MESSAGE_KEYS:
            text = _first_string(body.get(key))
            if text:
                return text
        for field, messages in field_errors_of(body).items():
            return f"{field}: {messages[0]}"
    elif isinstance(body, (list, str)):
        text = _first_string(body)
        if text:
            return text
    elif body is None:
        text = _plain_text(response)
        if text:
            return text
    return _reason_phrase(response)


def field_errors_of(body: object, redact: Redactor | None = None) -> dict[str, list[str]]:
    """Collect the ``{"<field>": ["msg", ...]}`` entries of an error body; a lone string is one message."""
    if not isinstance(body, Mapping):
        return {}
    errors: dict[str, list[str]] = {}
    for field, value in body.items():
        if field in _NOT_FIELD_KEYS:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            continue
        texts = [message for message in value if isinstance(message, str) and message]
        if texts:
            errors[str(field)] = [redact(text) for text in texts] if redact else texts
    return errors


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds to wait from a Retry-After header (seconds or an HTTP date), or None if invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_http_date(value, now or datetime.now(UTC))
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(value: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        # RFC 9110 dates are always GMT; parsedate_to_datetime leaves "-0000" naive.
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _try_json(response: httpx.Response) -> object | None:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _first_string(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item.strip():
                return item.strip()
    return None


def _plain_text(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    if "html" in response.headers.get("Content-Type", "").lower():
        text = _HTML_TAG.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) > _MAX_TEXT_CHARS:
        return text[: _MAX_TEXT_CHARS - 1] + "…"
    return text


def _reason_phrase(response: httpx.Response) -> str:
    if response.reason_phrase:
        return response.reason_phrase
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return f"HTTP {response.status_code}"
