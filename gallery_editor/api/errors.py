"""Exceptions raised by the Kelviq API client.

Every error the client raises derives from ``ApiError``::

    ApiError                      any failed call; also used for unmapped statuses (405, 428, ...)
    ├── AuthenticationError       401, 403: key missing, invalid or from the other environment
    ├── NotFoundError             404: unknown product or image
    ├── ValidationError           400, 409, 422: the server rejected the values (field_errors)
    ├── RateLimitedError          429: too many requests (retry_after in seconds, if sent)
    ├── ServerError               5xx
    ├── NetworkError              no usable HTTP response: connect failure, timeout, drop
    │   └── RedirectError         3xx; redirects are never followed
    └── InvalidResponseError      2xx whose body is not valid JSON of the documented shape

Each error carries ``status`` (``None`` when no HTTP status arrived), a readable
``message`` that never contains the API key, and the request's ``method`` and ``path``.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthenticationError",
    "InvalidResponseError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "RedirectError",
    "ServerError",
    "ValidationError",
]


class ApiError(Exception):
    """A Kelviq API call that failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return f"{self.message} ({self._request_summary()})" if self.method else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"method={self.method!r}, path={self.path!r})"
        )

    def _request_summary(self) -> str:
        request = f"{self.method} {self.path}"
        if self.status is None:
            return request
        return f"{request} returned HTTP {self.status}"


class AuthenticationError(ApiError):
    """The server rejected the API key (HTTP 401) or the action (HTTP 403)."""


class NotFoundError(ApiError):
    """The product or image does not exist (HTTP 404)."""


class ValidationError(ApiError):
    """The server rejected the request's values (HTTP 400, 409 or 422)."""

    def __init__(
        self,
        message: str,
        *,
        field_errors: dict[str, list[str]] | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        # Keyed by the API's own field names (camelCase), e.g. {"name": ["Too long."]}.
        self.field_errors: dict[str, list[str]] = field_errors or {}


class RateLimitedError(ApiError):
    """The server asked the client to slow down (HTTP 429)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        # Seconds to wait, from the Retry-After header; None when the header was absent or invalid.
        self.retry_after = retry_after


class ServerError(ApiError):
    """The server failed to handle the request (HTTP 5xx)."""


class NetworkError(ApiError):
    """No usable HTTP response arrived: connect failure, timeout or dropped connection."""


class RedirectError(NetworkError):
    """The server responded with a redirect (HTTP 3xx), which the client never follows."""

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.location = location


class InvalidResponseError(ApiError):
    """The response body is not valid JSON or lacks a required field of the right type."""
