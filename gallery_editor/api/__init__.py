"""Client for the Kelviq catalog API: products, their images, errors and retries."""

from gallery_editor.api.client import KelviqClient
from gallery_editor.api.errors import (
    ApiError,
    AuthenticationError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    ServerError,
    ValidationError,
)
from gallery_editor.api.retry import RetryPolicy
from gallery_editor.api.urls import DEFAULT_MEDIA_URL, PRODUCTION_BASE_URL, SANDBOX_BASE_URL, validate_base_url

__all__ = [
    "DEFAULT_MEDIA_URL",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "ApiError",
    "AuthenticationError",
    "InvalidResponseError",
    "KelviqClient",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "RedirectError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "validate_base_url",
]
