"""Faults that damage the JSON of an API response: broken syntax, wrong types, missing keys."""

from __future__ import annotations

import copy
import dataclasses
import logging

from gallery_editor.sandbox.http_base import encode_json
from gallery_editor.sandbox.responses import ApiResponse

logger = logging.getLogger(__name__)


def damage_response(response: ApiResponse, kind: str, foreign_next_url: str) -> ApiResponse:
    """Return ``response`` changed by the fault ``kind``.

    - ``malformed_json``: status 200 and a body that is not valid JSON.
    - ``truncated_json``: the JSON cut in the middle, with a Content-Length matching the cut body
      (a 204 becomes a 200 so that it may carry a body).
    - ``wrong_types``: ``count`` and ``ordering`` as strings, ``thumbnail`` as a string, and the
      ``images`` of a single product as an object instead of an array.
    - ``missing_fields``: ``id`` of the top-level product or image and ``ordering`` of every
      image removed, and ``id`` of every listed product.
    - ``foreign_next``: ``next`` set to ``foreign_next_url`` on a product list page.
    """
    encoded = encode_json(response.payload) if response.payload is not None else b""
    if kind == "malformed_json":
        broken = encoded[:-1] + b",}" if encoded else b'{"detail": '
        return dataclasses.replace(response, status=200, raw=broken)
    if kind == "truncated_json":
        text = encoded or b'{"detail": "Image deleted."}'
        status = 200 if response.status == 204 else response.status
        return dataclasses.replace(response, status=status, raw=text[: max(1, len(text) // 2)])
    if not isinstance(response.payload, dict):
        logger.info(
            "Sandbox fault %s had no JSON object to change in a %d response", kind, response.status
        )
        return response
    payload = copy.deepcopy(response.payload)
    if kind == "wrong_types":
        _give_wrong_types(payload)
    elif kind == "missing_fields":
        _drop_required_fields(payload)
    elif kind == "foreign_next" and "results" in payload:
        payload["next"] = foreign_next_url
    return dataclasses.replace(response, payload=payload)


def _give_wrong_types(payload: dict[str, object]) -> None:
    if "results" in payload:
        payload["count"] = str(payload.get("count"))
        for product in payload["results"]:  # type: ignore[attr-defined]
            for image in product.get("images", []):
                image["ordering"] = str(image["ordering"])
    elif "images" in payload:
        images = payload["images"]
        payload["images"] = {image["id"]: image for image in images}  # type: ignore[attr-defined]
    elif "ordering" in payload:
        payload["ordering"] = str(payload["ordering"])
        payload["thumbnail"] = "yes" if payload.get("thumbnail") else "no"


def _drop_required_fields(payload: dict[str, object]) -> None:
    if "results" in payload:
        for product in payload["results"]:  # type: ignore[attr-defined]
            product.pop("id", None)
            for image in product.get("images", []):
                image.pop("ordering", None)
        return
    payload.pop("id", None)
    payload.pop("ordering", None)
    for image in payload.get("images", []):  # type: ignore[attr-defined]
        image.pop("ordering", None)
