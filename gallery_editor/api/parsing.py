"""Strict conversion of Kelviq API JSON into the domain models.

Required keys must be present with the documented JSON type; a JSON boolean is not
accepted as an integer. Unknown keys are ignored. Any breach raises
``InvalidResponseError`` naming the field, what was expected and what arrived, e.g.
``images[3].ordering: expected an integer, got "2"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from gallery_editor.api.errors import InvalidResponseError
from gallery_editor.domain.models import Product, ProductImage

__all__ = ["ProductPage", "describe_json_value", "parse_image", "parse_product", "parse_product_page"]

# Optional Product string fields: JSON key -> model attribute.
_OPTIONAL_PRODUCT_STRINGS = {
    "identifier": "identifier",
    "description": "description",
    "taxCode": "tax_code",
    "createdBy": "created_by",
    "modifiedOn": "modified_on",
}

_MAX_SHOWN_CHARS = 60

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ProductPage:
    """One page of ``GET /catalog/products/``."""

    count: int
    next: str | None
    previous: str | None
    results: tuple[Product, ...]


def parse_product(data: object, *, where: str = "") -> Product:
    """Build a Product from its JSON object; ``where`` prefixes field names in error messages."""
    obj = _expect_object(data, where or "product")

    product_id = _require_id(obj, where)
    name = _require(obj, "name", str, "a string", where)
    images = _require(obj, "images", list, "a list", where)
    optional = {
        attribute: _optional_string(obj, key, where) for key, attribute in _OPTIONAL_PRODUCT_STRINGS.items()
    }

    return Product(
        id=product_id,
        name=name,
        images=tuple(parse_image(item, where=_join(where, f"images[{index}]")) for index, item in enumerate(images)),
        plans=_optional_plans(obj, where),
        **optional,
    )


def parse_image(data: object, *, where: str = "") -> ProductImage:
    """Build a ProductImage from its JSON object; ``where`` prefixes field names in error messages."""
    obj = _expect_object(data, where or "image")

    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        _fail(_join(where, "name"), "a string or null", name)

    return ProductImage(
        id=_require_id(obj, where),
        name=name,
        image=_require(obj, "image", str, "a string", where),
        ordering=_require_int(obj, "ordering", where),
        thumbnail=_require(obj, "thumbnail", bool, "a boolean", where),
        enabled=_require(obj, "enabled", bool, "a boolean", where),
    )


def parse_product_page(data: object) -> ProductPage:
    """Build a ProductPage from a paginated list body ``{count, next, previous, results}``."""
    obj = _expect_object(data, "product list")

    count = _require_int(obj, "count", "")
    if count < 0:
        _fail("count", "a non-negative integer", count)
    results = _require(obj, "results", list, "a list", "")

    return ProductPage(
        count=count,
        next=_require_nullable_string(obj, "next"),
        previous=_require_nullable_string(obj, "previous"),
        results=tuple(parse_product(item, where=f"results[{index}]") for index, item in enumerate(results)),
    )


def describe_json_value(value: object) -> str:
    """Describe a decoded JSON value for an error message: short scalars verbatim, containers by kind."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_SHOWN_CHARS:
        return text[: _MAX_SHOWN_CHARS - 1] + "…"
    return text


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _fail(field: str, expected: str, value: object) -> NoReturn:
    raise InvalidResponseError(f"{field}: expected {expected}, got {describe_json_value(value)}")


def _expect_object(data: object, where: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        _fail(where, "a JSON object", data)
    return data


def _require_present(obj: Mapping[str, object], key: str, where: str) -> object:
    if key not in obj:
        raise InvalidResponseError(f"{_join(where, key)}: required field is missing")
    return obj[key]


def _require(obj: Mapping[str, object], key: str, kind: type[_T], expected: str, where: str) -> _T:
    value = _require_present(obj, key, where)
    if not isinstance(value, kind):
        _fail(_join(where, key), expected, value)
    return value


def _require_int(obj: Mapping[str, object], key: str, where: str) -> int:
    value = _require_present(obj, key, where)
    # bool is a subclass of int in Python, but true/false is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(_join(where, key), "an integer", value)
    return value


def _require_id(obj: Mapping[str, object], where: str) -> str:
    value = _require(obj, "id", str, "a non-empty string", where)
    if not value:
        _fail(_join(where, "id"), "a non-empty string", value)
    return value


def _require_nullable_string(obj: Mapping[str, object], key: str) -> str | None:
    value = _require_present(obj, key, "")
    if value is not None and not isinstance(value, str):
        _fail(key, "a string or null", value)
    return value


def _optional_string(obj: Mapping[str, object], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        _fail(_join(where, key), "a string or null", value)
    return value


def _optional_plans(obj: Mapping[str, object], where: str) -> tuple[str, ...] | None:
    plans = obj.get("plans")
    if plans is None:
        return None
    if not isinstance(plans, list):
        _fail(_join(where, "plans"), "a list of strings or null", plans)
    for index, plan in enumerate(plans):
        if not isinstance(plan, str):
            _fail(_join(where, f"plans[{index}]"), "a string", plan)
    return tuple(plans)
