"""Request validation of the sandbox API: image PATCH bodies and pagination parameters."""

from __future__ import annotations

import json
import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

PATCH_FIELDS = ("name", "ordering", "thumbnail", "enabled")
MAX_NAME_LENGTH = 255
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 100

_DIGITS = re.compile(r"[0-9]+")
# Bigger numbers are clamped: any such page is past the end and any such page size is capped.
_MAX_PARSED_INTEGER = 10**9


class RequestError(Exception):
    """A client error with the HTTP status and the JSON body to send back."""

    def __init__(self, status: int, payload: dict[str, object]) -> None:
        super().__init__(payload)
        self.status = status
        self.payload = payload


def parse_image_patch(raw_body: bytes) -> dict[str, object]:
    """Return the validated fields of an image PATCH body, names stripped.

    Raises RequestError(400) with ``{"detail": ...}`` for a body that is empty, not JSON or not
    a non-empty object, and with ``{"<field>": ["msg", ...]}`` for invalid or unknown fields.
    """
    body = _decode_json_object(raw_body)
    errors: dict[str, list[str]] = {}
    fields: dict[str, object] = {}
    for key, value in body.items():
        if key not in PATCH_FIELDS:
            errors[key] = [
                "Unknown field: only name, ordering, thumbnail and enabled can be changed."
            ]
            continue
        messages, cleaned = _validate_field(key, value)
        if messages:
            errors[key] = messages
        else:
            fields[key] = cleaned
    if errors:
        raise RequestError(400, errors)  # type: ignore[arg-type]
    return fields


def parse_positive_int(values: list[str] | None, parameter: str, default: int) -> int:
    """Return the last value of a query parameter as a positive integer, or ``default``."""
    if not values:
        return default
    text = values[-1]
    if not _DIGITS.fullmatch(text) or text.strip("0") == "":
        raise RequestError(
            400,
            {"detail": f"Invalid {parameter} {text[:50]!r}: use a positive integer such as 1."},
        )
    if len(text.lstrip("0")) > 10:
        return _MAX_PARSED_INTEGER
    return min(int(text), _MAX_PARSED_INTEGER)


def _decode_json_object(raw_body: bytes) -> dict[str, object]:
    example = 'Send a JSON object such as {"ordering": 0}.'
    if not raw_body.strip():
        raise RequestError(400, {"detail": f"Request body is empty. {example}"})
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RequestError(
            400, {"detail": f"Request body is not valid UTF-8 ({error.reason}). {example}"}
        ) from None
    except (json.JSONDecodeError, ValueError, RecursionError) as error:
        raise RequestError(400, {"detail": f"JSON parse error: {error}. {example}"}) from None
    if not isinstance(body, dict):
        raise RequestError(
            400,
            {"detail": f"Invalid data: expected a JSON object, got {_json_type(body)}. {example}"},
        )
    if not body:
        raise RequestError(
            400,
            {
                "detail": (
                    "No fields to update: send at least one of name, ordering, thumbnail, enabled."
                )
            },
        )
    return body


def _validate_field(key: str, value: object) -> tuple[list[str], object]:
    if key == "name":
        return _validate_name(value)
    if key == "ordering":
        # JSON Schema counts 3.0 as an integer, so an integral float is accepted as 3.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return ["A valid integer is required."], None
        if value < 0:
            return ["Ensure this value is greater than or equal to 0."], None
        return [], value
    if not isinstance(value, bool):
        return ["Must be a valid boolean."], None
    return [], value


def _validate_name(value: object) -> tuple[list[str], object]:
    if value is None:
        return ["This field may not be null."], None
    if not isinstance(value, str):
        return ["Not a valid string."], None
    name = value.strip()
    messages = []
    if not name:
        messages.append("This field may not be blank.")
    if len(name) > MAX_NAME_LENGTH:
        messages.append(
            f"Ensure this field has no more than {MAX_NAME_LENGTH} characters (it has {len(name)})."
        )
    for position, character in enumerate(name):
        if unicodedata.category(character) == "Cc":
            code_point = f"U+{ord(character):04X}"
            messages.append(
                f"Control characters are not allowed: found {code_point} at position {position}."
            )
            break
    return messages, name


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
