"""Base URL rules, request origins and media URL resolution for the Kelviq API."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MEDIA_URL",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "environment_name",
    "is_loopback_host",
    "origin_of",
    "resolve_image_url",
    "validate_base_url",
    "validate_media_url",
]

SANDBOX_BASE_URL = "https://sandboxapi.kelviq.com/api/v1"
PRODUCTION_BASE_URL = "https://api.kelviq.com/api/v1"
DEFAULT_MEDIA_URL = "https://cdn.kelviq.com/"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_RULE = "plain http is allowed only on loopback (127.0.0.0/8, ::1, localhost)"


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` is localhost or a loopback IP address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str) -> str:
    """Check an API base URL and return it without a trailing slash.

    Raises ValueError unless the URL is https, or http on a loopback host, and has a host
    but no credentials, query or fragment.
    """
    return _validate_service_url(url, what="API base URL").rstrip("/")


def validate_media_url(url: str) -> str:
    """Check a media base URL under the same rules as the API base URL; return it ending in '/'."""
    checked = _validate_service_url(url, what="media URL")
    return checked if checked.endswith("/") else checked + "/"


def _validate_service_url(url: str, *, what: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"The {what} is empty: enter a URL such as {SANDBOX_BASE_URL}.")
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as error:
        raise ValueError(f"The {what} {url!r} is not a valid URL: {error}.") from None

    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(
            f"The {what} {url!r} is not an absolute http(s) URL: "
            f"enter one such as {SANDBOX_BASE_URL}."
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"The {what} for host {host!r} contains a user name or password: "
            "remove them, because the API key is the only credential sent."
        )
    if parts.query or parts.fragment:
        raise ValueError(f"The {what} {url!r} has a query or fragment: remove everything after '?' or '#'.")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(f"The {what} {url!r} uses plain http: {_LOOPBACK_RULE}. Use https instead.")
    return url


def origin_of(url: str) -> tuple[str, str, int]:
    """Return the (scheme, host, port) of an absolute URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(scheme, -1)
    return scheme, host, port


def format_origin(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL, leaving out the scheme's default port."""
    scheme, host, port = origin_of(url)
    shown_host = f"[{host}]" if ":" in host else host
    if port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown_host}"
    return f"{scheme}://{shown_host}:{port}"


def environment_name(base_url: str) -> str:
    """Return a readable name for the environment a base URL points at."""
    origin = origin_of(base_url)
    if origin == origin_of(PRODUCTION_BASE_URL):
        return "Kelviq production"
    if origin == origin_of(SANDBOX_BASE_URL):
        return "the Kelviq sandbox"
    if is_loopback_host(origin[1]):
        return "the local sandbox"
    return f"the server at {format_origin(base_url)}"


def resolve_image_url(image: str, media_url: str) -> str:
    """Return the URL to fetch an image from.

    An absolute http(s) URL is returned unchanged. A storage key such as
    ``media/products/<id>/<uuid>/x.png`` is joined onto ``media_url`` (which ends in '/');
    leading slashes are dropped so that a key can never leave the media URL's path.
    """
    if not isinstance(image, str) or not image.strip():
        raise ValueError("The image reference is empty: expected a URL or a storage key such as media/....")
    image = image.strip()
    scheme = urlsplit(image).scheme.lower()
    if scheme in _DEFAULT_PORTS:
        return image
    if scheme:
        raise ValueError(
            f"The image reference {image[:100]!r} uses the {scheme!r} scheme: "
            "only http(s) URLs and storage keys are accepted."
        )
    return media_url + image.lstrip("/")
