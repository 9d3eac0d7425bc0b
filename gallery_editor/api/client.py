"""``KelviqClient``: the catalog calls of the Kelviq API over one shared ``httpx.Client``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import TracebackType
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import httpx

from gallery_editor import __version__
from gallery_editor.api.errors import InvalidResponseError, NetworkError, NotFoundError
from gallery_editor.api.parsing import parse_image, parse_product, parse_product_page
from gallery_editor.api.responses import decode_json, error_for_response
from gallery_editor.api.retry import RetryPolicy, call_with_retry
from gallery_editor.api.urls import (
    DEFAULT_MEDIA_URL,
    environment_name,
    format_origin,
    origin_of,
    resolve_image_url,
    validate_base_url,
    validate_media_url,
)
from gallery_editor.domain.models import EDITABLE_FIELDS, Product, ProductImage

__all__ = ["DEFAULT_TIMEOUT", "MAX_PAGE_SIZE", "KelviqClient"]

logger = logging.getLogger(__name__)

# The client logs one line per request itself, so httpx's own request lines would be duplicates.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_PAGE_SIZE = 100  # Kelviq caps page_size at 100.

_FIELD_TYPES: dict[str, tuple[type, str]] = {
    "name": (str, "a string"),
    "ordering": (int, "an integer"),
    "thumbnail": (bool, "a boolean"),
    "enabled": (bool, "a boolean"),
}

EventHooks = Mapping[str, list[Callable[..., Any]]]

_T = TypeVar("_T")


class _JsonResponse(NamedTuple):
    data: object
    status: int
    path: str


class _OriginBearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>`` only to requests for the API origin."""

    def __init__(self, api_key: str, origin: tuple[str, str, int]) -> None:
        self._header = f"Bearer {api_key}"
        self._origin = origin

    def __repr__(self) -> str:
        return f"{type(self).__name__}(origin={self._origin!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin_of(str(request.url)) == self._origin:
            request.headers["Authorization"] = self._header
        else:
            request.headers.pop("Authorization", None)
        yield request


class KelviqClient:
    """Client for the Kelviq catalog endpoints. One instance may be shared between threads.

    Raises ``ValueError`` for a base URL or media URL that is not https (plain http is
    allowed only on loopback) and for an empty or malformed API key.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        media_url: str = DEFAULT_MEDIA_URL,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 8,
        *,
        event_hooks: EventHooks | None = None,
    ) -> None:
        self._base_url = validate_base_url(base_url)
        self._media_url = validate_media_url(media_url)
        self._api_key = _validate_api_key(api_key)
        self._retry = retry if retry is not None else RetryPolicy()
        self._environment = environment_name(self._base_url)
        self._http = httpx.Client(
            auth=_OriginBearerAuth(self._api_key, origin_of(self._base_url)),
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"gallery-editor/{__version__}",
            },
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            event_hooks=dict(event_hooks) if event_hooks else None,
        )

    # -- properties and lifetime ------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL without a trailing slash, e.g. ``https://api.kelviq.com/api/v1``."""
        return self._base_url

    @property
    def origin(self) -> str:
        """The ``scheme://host[:port]`` that receives the API key."""
        return format_origin(self._base_url)

    @property
    def media_url(self) -> str:
        """The base URL that storage keys are resolved against, ending in '/'."""
        return self._media_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    def close(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> KelviqClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # The API key is left out on purpose: reprs end up in logs and tracebacks.
        return f"KelviqClient(base_url={self._base_url!r}, media_url={self._media_url!r})"

    # -- catalog calls ------------------------------------------------------------------

    def iter_products(self, search: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[Product]:
        """Yield every product, page by page, skipping ids already yielded.

        Each page request is built here (``page + 1``, same ``search`` and ``page_size``),
        and the server's ``next`` link only signals that more pages exist, so a ``next``
        naming another host never receives a request. A 404 for a page after the first
        ends the list.
        """
        params = _list_params(search, page_size)
        seen: set[str] = set()
        page = 1
        while True:
            products = self._fetch_page(page, params)
            if products is None:
                return
            results, has_next = products

            new = [product for product in results if product.id not in seen]
            seen.update(product.id for product in new)
            yield from new

            if not has_next:
                return
            if not new:
                # A server that ignores `page` would otherwise be paged through forever.
                logger.warning("Stopped listing products: page %d brought no new products", page)
                return
            page += 1

    def list_products(self, search: str | None = None) -> list[Product]:
        """Return all products matching ``search`` (all pages, de-duplicated by id)."""
        return list(self.iter_products(search))

    def get_product(self, product_id: str, *, retry: RetryPolicy | None = None) -> Product:
        """Return one product with its images and plans.

        ``retry`` replaces the client's retry policy for this call.
        """
        path = f"/catalog/products/{_path_segment(product_id, 'product id')}/"
        response = self._call_json("GET", path, retry_invalid_response=True, retry=retry)
        product = _parse(parse_product, response, "GET")
        _check_id(product_id, product.id, response, "GET")
        return product

    def update_image(
        self, product_id: str, image_id: str, *, retry: RetryPolicy | None = None, **fields: object
    ) -> ProductImage:
        """Send a PATCH with exactly ``fields`` (name, ordering, thumbnail, enabled) and return the image.

        The response contains only this image; after a ``thumbnail`` change the other
        images' flags are known only after re-reading the product. ``retry`` replaces the
        client's retry policy for this call.
        """
        body = _validated_fields(fields)
        path = _image_path(product_id, image_id)
        response = self._call_json(
            "PATCH", path, json_body=body, retry_invalid_response=False, retry=retry
        )
        image = _parse(parse_image, response, "PATCH")
        _check_id(image_id, image.id, response, "PATCH")
        return image

    def delete_image(self, product_id: str, image_id: str) -> None:
        """Delete an image; a 404 after an earlier attempt failed counts as success.

        The earlier attempt may have deleted the image before its response was lost.
        """
        path = _image_path(product_id, image_id)
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                self._send("DELETE", path)
            except NotFoundError:
                if attempts == 1:
                    raise
                logger.info("Image %s was already deleted when DELETE was retried", image_id)

        call_with_retry(self._retry, attempt, retry_invalid_response=False)

    def resolve_image_url(self, image: str) -> str:
        """Return an image's URL: absolute http(s) URLs unchanged, storage keys joined onto the media URL."""
        return resolve_image_url(image, self._media_url)

    # -- transport --------------------------------------------------------------------

    def _fetch_page(self, page: int, params: dict[str, str | int]) -> tuple[tuple[Product, ...], bool] | None:
        try:
            response = self._call_json(
                "GET", "/catalog/products/", params={**params, "page": page}, retry_invalid_response=True
            )
        except NotFoundError:
            if page == 1:
                raise
            logger.debug("Page %d of the product list returned 404; treating it as the end", page)
            return None

        listing = _parse(parse_product_page, response, "GET")
        if listing.next is not None and origin_of(listing.next) != origin_of(self._base_url):
            logger.debug("The next-page link names another origin; requesting page %d from the API", page + 1)
        return listing.results, listing.next is not None

    def _call_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, object] | None = None,
        retry_invalid_response: bool,
        retry: RetryPolicy | None = None,
    ) -> _JsonResponse:
        """Send a request under the retry policy and decode its JSON body."""

        def attempt() -> _JsonResponse:
            response = self._send(method, path, params=params, json_body=json_body)
            request_path = response.request.url.path
            data = decode_json(response, method=method, path=request_path)
            return _JsonResponse(data, response.status_code, request_path)

        policy = retry if retry is not None else self._retry
        return call_with_retry(policy, attempt, retry_invalid_response=retry_invalid_response)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, object] | None = None,
    ) -> httpx.Response:
        """Send one request and return its fully read 2xx response, or raise the matching ApiError."""
        request = self._http.build_request(method, self._base_url + path, params=params, json=json_body)
        request_path = request.url.path
        started = time.perf_counter()
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as error:
            self._log_failure(request, started, _describe(error))
            # The message already names the httpx error, so its chain would only repeat it.
            raise self._network_error(error, method, request_path) from None

        try:
            response = self._read_body(response, method, request_path)
        except InvalidResponseError as error:
            self._log_failure(request, started, f"HTTP {error.status}, {error.message}")
            raise
        finally:
            response.close()
        logger.info(
            "%s %s %d %d ms", method, _logged_target(request), response.status_code, _elapsed_ms(started)
        )

        if not response.is_success:
            raise error_for_response(
                response, method=method, path=request_path, environment=self._environment, redact=self._redact
            )
        return response

    def _read_body(self, response: httpx.Response, method: str, request_path: str) -> httpx.Response:
        """Read the whole body; return the response, or a bodiless copy if an error body was cut off."""
        try:
            response.read()
            return response
        except httpx.RequestError as error:
            response.close()
            if not response.is_success:
                # The status alone identifies the error, and the body only adds the server's text.
                return httpx.Response(
                    response.status_code, headers=response.headers, content=b"", request=response.request
                )
            raise InvalidResponseError(
                f"The response body was cut off: {self._redact(_describe(error))}. Try again.",
                status=response.status_code,
                method=method,
                path=request_path,
            ) from None

    def _network_error(self, error: httpx.TransportError, method: str, request_path: str) -> NetworkError:
        origin = self.origin
        reason = self._redact(_describe(error))
        if isinstance(error, httpx.ConnectTimeout):
            text = f"Connecting to {origin} timed out ({reason}). Check the network connection and the base URL."
        elif isinstance(error, httpx.ConnectError):
            text = f"Could not connect to {origin} ({reason}). Check the network connection and the base URL."
        elif isinstance(error, httpx.TimeoutException):
            text = f"The request to {origin} timed out ({reason}). Try again later, because the server may be overloaded."
        else:
            text = f"The connection to {origin} failed before a response arrived ({reason}). Try again."
        return NetworkError(text, method=method, path=request_path)

    def _log_failure(self, request: httpx.Request, started: float, reason: str) -> None:
        logger.info(
            "%s %s failed after %d ms: %s",
            request.method,
            _logged_target(request),
            _elapsed_ms(started),
            self._redact(reason),
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[API key]")


def _validate_api_key(api_key: str) -> str:
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("The API key is empty: enter the Server API key from Settings > API keys.")
    key = api_key.strip()
    if not key.isascii() or not key.isprintable() or any(char.isspace() for char in key):
        raise ValueError(
            "The API key contains spaces, control or non-ASCII characters: paste the key again "
            "exactly as shown in Settings > API keys."
        )
    return key


def _list_params(search: str | None, page_size: int) -> dict[str, str | int]:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}.")
    params: dict[str, str | int] = {"page_size": page_size}
    if search is not None and search.strip():
        params["search"] = search.strip()
    return params


def _path_segment(value: str, what: str) -> str:
    """Percent-encode an id for use as one path segment; '.' and '..' could climb out of the path."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise ValueError(f"Invalid {what} {value!r}: expected a UUID such as the ids in a product response.")
    return quote(value, safe="")


def _image_path(product_id: str, image_id: str) -> str:
    product = _path_segment(product_id, "product id")
    image = _path_segment(image_id, "image id")
    return f"/catalog/products/{product}/image/{image}/"


def _validated_fields(fields: Mapping[str, object]) -> dict[str, object]:
    if not fields:
        raise ValueError(f"update_image() needs at least one field out of {', '.join(EDITABLE_FIELDS)}.")
    for name, value in fields.items():
        if name not in _FIELD_TYPES:
            raise TypeError(
                f"update_image() got the unknown field {name!r}: allowed fields are {', '.join(EDITABLE_FIELDS)}."
            )
        kind, expected = _FIELD_TYPES[name]
        # bool is a subclass of int, but `ordering: true` is not an ordering.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"update_image() field {name!r} must be {expected}, got {value!r}.")
    return dict(fields)


def _parse(parser: Callable[[object], _T], response: _JsonResponse, method: str) -> _T:
    """Run a parser and attach the request to its InvalidResponseError."""
    try:
        return parser(response.data)
    except InvalidResponseError as error:
        raise InvalidResponseError(
            error.message, status=response.status, method=method, path=response.path
        ) from None


def _check_id(expected: str, actual: str, response: _JsonResponse, method: str) -> None:
    if actual != expected:
        raise InvalidResponseError(
            f"id: expected {expected!r}, got {actual!r}", status=response.status, method=method, path=response.path
        )


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _logged_target(request: httpx.Request) -> str:
    return request.url.raw_path.decode("ascii", errors="replace")


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)

