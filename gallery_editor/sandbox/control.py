"""Loopback control endpoints under ``/_sandbox`` for tests that drive a sandbox in another process.

They respond under the server root and under the API base URL (``/api/v1/_sandbox/...``),
and all of them take the same bearer key as the API:

- ``POST /_sandbox/faults`` with ``{kind, path, method, times}`` injects a fault (201);
  ``DELETE /_sandbox/faults`` removes the pending ones (204).
- ``POST /_sandbox/products/{pid}/images`` with optional ``{name, ordering, thumbnail, enabled,
  format}`` adds an image and returns it (201).
- ``PATCH`` and ``DELETE /_sandbox/products/{pid}/images/{iid}`` change or remove an image
  without the API's validation, like another user's edit.
- ``GET /_sandbox/state`` returns the URLs, well-known ids, every product and the request log.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from gallery_editor.sandbox.catalog import CatalogLookupError
from gallery_editor.sandbox.responses import ApiResponse

if TYPE_CHECKING:
    from gallery_editor.sandbox.server import SandboxServer

logger = logging.getLogger(__name__)

_FAULTS_PATH = re.compile(r"/_sandbox/faults/?")
_STATE_PATH = re.compile(r"/_sandbox/state/?")
_IMAGES_PATH = re.compile(r"/_sandbox/products/([^/]+)/images/?")
_IMAGE_PATH = re.compile(r"/_sandbox/products/([^/]+)/images/([^/]+)/?")

_ADD_IMAGE_KEYS = ("name", "ordering", "thumbnail", "enabled", "format", "absoluteUrl")


def handle_control_request(
    sandbox: SandboxServer, method: str, path: str, body: bytes
) -> ApiResponse:
    """Run one authorised control request and return its response."""
    try:
        return _route(sandbox, method, path, body)
    except CatalogLookupError as error:
        logger.info("Sandbox control %s %s: %s", method, path, error.message)
        return ApiResponse(404, {"detail": error.message})
    except (ValueError, TypeError) as error:
        logger.info("Sandbox control %s %s rejected: %s", method, path, error)
        return ApiResponse(400, {"detail": f"Invalid control request: {error}."})


def _route(sandbox: SandboxServer, method: str, path: str, body: bytes) -> ApiResponse:
    if _FAULTS_PATH.fullmatch(path):
        if method == "POST":
            return _add_fault(sandbox, body)
        if method == "DELETE":
            sandbox.faults.clear()
            return ApiResponse(204)
        return _not_allowed("POST, DELETE")
    if _STATE_PATH.fullmatch(path):
        if method in ("GET", "HEAD"):
            return ApiResponse(200, sandbox.state())
        return _not_allowed("GET, HEAD")
    match = _IMAGES_PATH.fullmatch(path)
    if match:
        if method == "POST":
            return _add_image(sandbox, match.group(1), body)
        return _not_allowed("POST")
    match = _IMAGE_PATH.fullmatch(path)
    if match:
        product_id, image_id = match.group(1), match.group(2)
        if method == "PATCH":
            fields = _json_object(body)
            return ApiResponse(
                200, sandbox.catalog.set_image_fields(product_id, image_id, **fields)
            )
        if method == "DELETE":
            sandbox.catalog.delete_image(product_id, image_id)
            return ApiResponse(204)
        return _not_allowed("PATCH, DELETE")
    return ApiResponse(404, {"detail": f"Not found: no control endpoint at {path[:200]}."})


def _add_fault(sandbox: SandboxServer, body: bytes) -> ApiResponse:
    data = _json_object(body)
    unknown = sorted(set(data) - {"kind", "path", "method", "times"})
    if unknown:
        raise ValueError(
            f"unknown fault key(s) {', '.join(unknown)}; use kind, path, method, times"
        )
    if "kind" not in data:
        raise ValueError('missing fault kind; send for example {"kind": "status:500"}')
    fault = sandbox.faults.add(
        data["kind"],  # type: ignore[arg-type]
        path=data.get("path"),  # type: ignore[arg-type]
        method=data.get("method"),  # type: ignore[arg-type]
        times=data.get("times", 1),  # type: ignore[arg-type]
    )
    return ApiResponse(201, fault.to_json())


def _add_image(sandbox: SandboxServer, product_id: str, body: bytes) -> ApiResponse:
    data = _json_object(body) if body.strip() else {}
    unknown = sorted(set(data) - set(_ADD_IMAGE_KEYS))
    if unknown:
        raise ValueError(
            f"unknown image key(s) {', '.join(unknown)}; use {', '.join(_ADD_IMAGE_KEYS)}"
        )
    image_id = sandbox.catalog.add_image(
        product_id,
        data.get("name"),  # type: ignore[arg-type]
        ordering=data.get("ordering"),  # type: ignore[arg-type]
        thumbnail=bool(data.get("thumbnail", False)),
        enabled=bool(data.get("enabled", True)),
        image_format=str(data.get("format", "JPEG")),
        absolute_url=bool(data.get("absoluteUrl", False)),
    )
    image = next(
        item
        for item in sandbox.catalog.get_product(product_id)["images"]  # type: ignore[attr-defined]
        if item["id"] == image_id
    )
    return ApiResponse(201, image)


def _json_object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"body is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _not_allowed(allow: str) -> ApiResponse:
    return ApiResponse(
        405, {"detail": "Method not allowed on this control endpoint."}, {"Allow": allow}
    )
