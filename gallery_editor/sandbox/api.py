"""API port of the sandbox: catalog endpoints, ``/openapi.yaml`` and the ``/_sandbox`` control."""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
from functools import cache
from importlib import resources
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

from gallery_editor.sandbox.catalog import CatalogLookupError
from gallery_editor.sandbox.control import handle_control_request
from gallery_editor.sandbox.damage import damage_response
from gallery_editor.sandbox.faults import RANDOM_SLOW_SECONDS, Fault, RandomFailure
from gallery_editor.sandbox.http_base import RequestBodyError, SandboxRequestHandler, encode_json
from gallery_editor.sandbox.responses import ApiResponse
from gallery_editor.sandbox.validation import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    RequestError,
    parse_image_patch,
    parse_positive_int,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/_sandbox"
OPENAPI_PATH = "/openapi.yaml"
OPENAPI_DEFAULT_PORT_LINE = 'default: "8765"'

_PRODUCT_PATH = re.compile(r"/catalog/products/([^/]+)/")
_IMAGE_PATH = re.compile(r"/catalog/products/([^/]+)/image/([^/]+)/")

THROTTLED_DETAIL = "Request was throttled."
HTML_ERROR_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server did not respond.</p></body></html>"
)


@cache
def openapi_text() -> str:
    """Return the packaged OpenAPI description of the catalog endpoints."""
    return resources.files("gallery_editor.sandbox").joinpath("openapi.yaml").read_text("utf-8")


class ApiRequestHandler(SandboxRequestHandler):
    """Request handler of the API port: ``/api/v1/...``, ``/openapi.yaml`` and ``/_sandbox/...``."""

    port_label = "api"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            body = self.read_body()
        except RequestBodyError as error:
            logger.info("Sandbox rejected the body of %s %s: %s", self.command, self.path, error)
            self._finish(ApiResponse(error.status, {"detail": f"Request body rejected: {error}."}))
            return
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX + CONTROL_PREFIX):
            # Control endpoints respond under the server root and under the API base URL.
            path = path[len(API_PREFIX) :]
        if path == OPENAPI_PATH:
            self._serve_openapi()
        elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._serve_control(path, body)
        elif path.startswith(API_PREFIX + "/"):
            self._serve_api(path, body)
        else:
            self._finish(ApiResponse(404, {"detail": f"Not found: no endpoint at {path[:200]}."}))

    # --- catalog API -------------------------------------------------------------------

    def _serve_api(self, path: str, body: bytes) -> None:
        """Apply latency, faults, rate limit, auth and random failures, then route the request."""
        sandbox = self.sandbox
        config = sandbox.config
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)

        # Injected faults come first, so a test gets the fault it asked for whatever else applies.
        fault = sandbox.faults.take(self.path, self.command)
        if (
            fault is not None
            and not fault.damages_response
            and self._apply_early_fault(fault, body)
        ):
            return

        if not sandbox.rate_limiter.allow():
            headers = {"Retry-After": "1"} if config.retry_after else {}
            self._finish(ApiResponse(429, {"detail": THROTTLED_DETAIL}, headers), body)
            return
        if not self._authorized():
            self._finish(self._unauthorized(), body)
            return

        # A random failure hits before or, for a PATCH or DELETE, after the change is applied.
        failure = sandbox.random_failures.draw(self.command)
        if (
            failure is not None
            and not failure.after_change
            and self._apply_random_failure(failure, body)
        ):
            return
        response = self._route_api(path[len(API_PREFIX) :], body)
        if failure is not None and failure.after_change:
            logger.info(
                "Sandbox random failure %s after %s %s was applied",
                failure.kind,
                self.command,
                self.path,
            )
            self._apply_random_failure(failure, body)
            return

        if fault is not None and fault.damages_response:
            response = damage_response(response, fault.kind, self._foreign_next_url())
        self._finish(response, body)

    def _route_api(self, relative: str, body: bytes) -> ApiResponse:
        try:
            if relative == "/catalog/products/":
                return self._allow(("GET", "HEAD")) or self._list_products()
            match = _PRODUCT_PATH.fullmatch(relative)
            if match:
                return self._allow(("GET", "HEAD")) or self._get_product(unquote(match.group(1)))
            match = _IMAGE_PATH.fullmatch(relative)
            if match:
                product_id, image_id = unquote(match.group(1)), unquote(match.group(2))
                return self._allow(("PATCH", "DELETE")) or self._change_image(
                    product_id, image_id, body
                )
        except RequestError as error:
            return ApiResponse(error.status, error.payload)
        except CatalogLookupError as error:
            return ApiResponse(404, {"detail": error.message})
        hint = " Paths end with '/'." if not relative.endswith("/") else ""
        return ApiResponse(
            404, {"detail": f"Not found: no API endpoint at {API_PREFIX}{relative[:200]}.{hint}"}
        )

    def _allow(self, methods: tuple[str, ...]) -> ApiResponse | None:
        if self.command in methods:
            return None
        return ApiResponse(
            405, {"detail": f'Method "{self.command}" not allowed.'}, {"Allow": ", ".join(methods)}
        )

    def _list_products(self) -> ApiResponse:
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        page = parse_positive_int(query.get("page"), "page", 1)
        page_size = min(
            parse_positive_int(query.get("page_size"), "page_size", DEFAULT_PAGE_SIZE),
            MAX_PAGE_SIZE,
        )
        search = query.get("search", [""])[-1]
        start = (page - 1) * page_size
        count, results = self.sandbox.catalog.list_page(search, start, page_size)
        last_page = max(1, math.ceil(count / page_size))
        if page > last_page:
            raise RequestError(
                404, {"detail": f"Invalid page: page {page} is past the last page ({last_page})."}
            )
        payload = {
            "count": count,
            "next": self._page_url(page + 1) if page < last_page else None,
            "previous": self._page_url(page - 1) if page > 1 else None,
            "results": results,
        }
        return ApiResponse(200, payload)

    def _page_url(self, page: int) -> str:
        # Like Django REST framework: keep the other query parameters, drop page for page 1.
        params = [
            (key, value)
            for key, value in parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
            if key != "page"
        ]
        if page > 1:
            params.append(("page", str(page)))
        url = f"{self.sandbox.api_url}/catalog/products/"
        return f"{url}?{urlencode(params)}" if params else url

    def _foreign_next_url(self) -> str:
        query = parse_qs(urlsplit(self.path).query)
        page = query.get("page", ["1"])[-1]
        next_page = int(page) + 1 if page.isdigit() else 2
        return f"https://attacker.invalid/api/v1/catalog/products/?page={next_page}"

    def _get_product(self, product_id: str) -> ApiResponse:
        return ApiResponse(200, self.sandbox.catalog.get_product(product_id))

    def _change_image(self, product_id: str, image_id: str, body: bytes) -> ApiResponse:
        catalog = self.sandbox.catalog
        # Like the real API, an unknown image is a 404 even when the body is invalid too.
        catalog.require_image(product_id, image_id)
        if self.command == "DELETE":
            catalog.delete_image(product_id, image_id)
            return ApiResponse(204)
        fields = parse_image_patch(body)
        return ApiResponse(200, catalog.update_image(product_id, image_id, fields))

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), self.sandbox.api_key.encode())

    def _unauthorized(self) -> ApiResponse:
        if "Authorization" not in self.headers:
            detail = (
                "Authentication credentials were not provided. "
                "Send 'Authorization: Bearer <API key>'."
            )
        else:
            detail = "Invalid API key. Check that the key belongs to this environment."
        return ApiResponse(401, {"detail": detail}, {"WWW-Authenticate": 'Bearer realm="api"'})

    # --- faults -------------------------------------------------------------------------

    def _apply_early_fault(self, fault: Fault, body: bytes) -> bool:
        """Send the fault's response and return True, or return False to go on (slow faults)."""
        logger.info("Sandbox fault %s on %s %s", fault.kind, self.command, self.path)
        slow_seconds = fault.slow_seconds
        if slow_seconds is not None:
            time.sleep(slow_seconds)
            return False
        if fault.kind == "drop_connection":
            self.record(None, self._log_body(body), include_body=self.command == "PATCH")
            self.drop_connection()
            return True
        if fault.kind == "html_error":
            self._finish(
                ApiResponse(502, raw=HTML_ERROR_BODY, content_type="text/html; charset=utf-8"), body
            )
            return True
        status = fault.status or 500
        self._finish(self._status_response(status, "Injected fault"), body)
        return True

    def _apply_random_failure(self, failure: RandomFailure, body: bytes) -> bool:
        if failure.kind == "slow":
            time.sleep(RANDOM_SLOW_SECONDS)
            return False
        if failure.kind == "drop_connection":
            self.record(None, self._log_body(body), include_body=self.command == "PATCH")
            self.drop_connection()
            return True
        status = 503 if failure.kind == "status:503" else 500
        self._finish(self._status_response(status, "Random failure"), body)
        return True

    def _status_response(self, status: int, cause: str) -> ApiResponse:
        headers = {}
        if status in (429, 503) and self.sandbox.config.retry_after:
            headers["Retry-After"] = "1"
        if status == 429:
            return ApiResponse(status, {"detail": THROTTLED_DETAIL}, headers)
        return ApiResponse(status, {"detail": f"{cause}: HTTP {status} from the sandbox."}, headers)

    # --- OpenAPI and control ------------------------------------------------------------

    def _serve_openapi(self) -> None:
        if self.command not in ("GET", "HEAD"):
            self._finish(
                ApiResponse(
                    405, {"detail": f'Method "{self.command}" not allowed.'}, {"Allow": "GET, HEAD"}
                )
            )
            return
        # The local server entry names the port this sandbox really listens on.
        text = openapi_text().replace(
            OPENAPI_DEFAULT_PORT_LINE, f'default: "{self.sandbox.api_port}"', 1
        )
        self._finish(
            ApiResponse(
                200, raw=text.encode("utf-8"), content_type="application/yaml; charset=utf-8"
            )
        )

    def _serve_control(self, path: str, body: bytes) -> None:
        if not self._authorized():
            self._finish(self._unauthorized(), body)
            return
        self._finish(handle_control_request(self.sandbox, self.command, path, body), body)

    # --- sending ------------------------------------------------------------------------

    def _finish(self, response: ApiResponse, body: bytes = b"") -> None:
        if response.raw is not None:
            encoded = response.raw
        elif response.payload is not None:
            encoded = encode_json(response.payload)
        else:
            encoded = b""
        content_type = response.content_type if encoded else None
        # Logged before sending, so a client that has the response also finds it in the log.
        self.record(response.status, self._log_body(body), include_body=self.command == "PATCH")
        self.send_body(response.status, encoded, content_type, response.headers)

    def _log_body(self, body: bytes) -> object:
        if self.command != "PATCH":
            return None
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return body.decode("utf-8", "replace")
