"""Tests of the arrangement document: export, JSON round trip and error messages."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gallery_editor.domain.arrangement import (
    Arrangement,
    ArrangementError,
    BaseImage,
    arrangement_from_product,
    arrangement_to_json,
    parse_arrangement,
)
from gallery_editor.domain.models import Product, ProductImage, TargetImage
from gallery_editor.domain.planner import plan_patches


def sample_product() -> Product:
    images = (
        ProductImage("b", "Back.png", "media/b.png", 5, False, True),
        ProductImage("a", None, "media/a.png", 0, True, True),
        ProductImage("c", " padded ", "media/c.png", 5, False, False),
    )
    return Product(id="p-1", name="Mug", images=images)


def sample_document() -> dict[str, Any]:
    return arrangement_to_json(arrangement_from_product(sample_product()))


def parse_error(data: object) -> ArrangementError:
    with pytest.raises(ArrangementError) as caught:
        parse_arrangement(data)
    return caught.value


def test_export_uses_display_order() -> None:
    arrangement = arrangement_from_product(sample_product())

    assert arrangement.product_id == "p-1"
    assert [image.id for image in arrangement.images] == ["a", "b", "c"]
    assert arrangement.images[0] == TargetImage("a", None, True, True)
    assert arrangement.base is not None
    assert arrangement.base["c"] == BaseImage(" padded ", 5, False, False)


def test_export_json_shape() -> None:
    data = sample_document()

    assert data["product"] == "p-1"
    assert data["images"][0] == {"id": "a", "name": None, "thumbnail": True, "enabled": True}
    expected_base = {"name": "Back.png", "ordering": 5, "thumbnail": False, "enabled": True}
    assert data["base"]["b"] == expected_base
    assert json.loads(json.dumps(data)) == data


def test_round_trip_keeps_everything() -> None:
    arrangement = arrangement_from_product(sample_product())

    parsed = parse_arrangement(json.loads(json.dumps(arrangement_to_json(arrangement))))

    assert parsed == arrangement


def test_round_trip_plans_nothing() -> None:
    product = sample_product()

    parsed = parse_arrangement(sample_document())

    assert plan_patches(product, parsed.images) == []


def test_without_base() -> None:
    data = sample_document()
    del data["base"]

    parsed = parse_arrangement(data)

    assert parsed.base is None
    assert arrangement_to_json(parsed) == data


def test_null_base_means_absent() -> None:
    data = sample_document()
    data["base"] = None

    assert parse_arrangement(data).base is None


def test_new_name_is_trimmed() -> None:
    data = sample_document()
    data["images"][1]["name"] = "  Side view  "

    assert parse_arrangement(data).images[1].name == "Side view"


def test_unchanged_untrimmed_name_kept() -> None:
    parsed = parse_arrangement(sample_document())

    assert parsed.images[2].name == " padded "


def test_null_name_without_base_allowed() -> None:
    data = sample_document()
    del data["base"]
    data["images"][1]["name"] = None

    assert parse_arrangement(data).images[1].name is None


DocumentPath = tuple[str | int, ...]
MISSING = object()


def changed(path: DocumentPath, value: object) -> Callable[[dict[str, Any]], None]:
    """Return an edit that sets (or, for MISSING, deletes) the value at `path`."""

    def edit(document: dict[str, Any]) -> None:
        parent: Any = document
        for key in path[:-1]:
            parent = parent[key]
        if value is MISSING:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value

    return edit


PARSE_PROBLEMS = [
    (("images", 2, "enabled"), "yes", 'images[2].enabled: expected true or false, got "yes"'),
    (("images", 0, "thumbnail"), 1, "images[0].thumbnail: expected true or false, got 1"),
    (("images", 1, "enabled"), MISSING, 'images[1]: missing key "enabled"'),
    (("images", 1, "enable"), True, 'images[1]: unknown key "enable"'),
    (("images", 1, "id"), "a", 'images[1].id: duplicate image id "a", also at images[0]'),
    (("images", 1, "id"), "", 'images[1].id: expected a non-empty string, got ""'),
    (("images", 0), "a", 'images[0]: expected an object, got "a"'),
    (("images", 0, "name"), 7, "images[0].name: expected a string or null, got 7"),
    (("product",), MISSING, 'document: missing key "product"'),
    (("images",), MISSING, 'document: missing key "images"'),
    (("version",), 2, 'document: unknown key "version"'),
    (("product",), None, "product: expected a non-empty string, got null"),
    (("images",), {}, "images: expected an array, got an object"),
    (("base",), [], "base: expected an object or null, got an array"),
    (("base", "b", "ordering"), "5", 'base["b"].ordering: expected an integer, got "5"'),
    (("base", "b", "ordering"), 1.5, 'base["b"].ordering: expected an integer, got 1.5'),
    (("base", "b", "ordering"), True, 'base["b"].ordering: expected an integer, got true'),
    (("base", "b", "name"), MISSING, 'base["b"]: missing key "name"'),
    (("images", 1, "name"), "   ", 'images[1].name: invalid name "   ": A name cannot be empty.'),
    (("images", 1, "name"), None, "images[1].name: expected a non-empty string, got null"),
    (("images", 1, "name"), "x" * 300, "images[1].name: invalid name"),
    (("images", 1, "thumbnail"), True, "images: 2 images have thumbnail true (a, b)"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), PARSE_PROBLEMS, ids=[row[2] for row in PARSE_PROBLEMS]
)
def test_parse_reports_path_and_problem(path: DocumentPath, value: object, expected: str) -> None:
    data = sample_document()
    changed(path, value)(data)

    error = parse_error(data)

    assert len(error.problems) == 1, error.problems
    assert error.problems[0].startswith(expected), error.problems[0]
    assert expected in str(error)


@pytest.mark.parametrize("data", [[], "text", None, 3])
def test_parse_rejects_non_object(data: object) -> None:
    error = parse_error(data)

    assert error.problems[0].startswith("document: expected an object, got ")


def test_parse_lists_every_problem() -> None:
    data = sample_document()
    data["images"][0]["enabled"] = "no"
    data["images"][2]["thumbnail"] = None

    error = parse_error(data)

    assert error.problems == (
        'images[0].enabled: expected true or false, got "no"',
        "images[2].thumbnail: expected true or false, got null",
    )
    assert "(2 problems)" in str(error)


def test_parse_caps_listed_problems() -> None:
    images = [
        {"id": f"i{number}", "name": None, "thumbnail": 0, "enabled": True}
        for number in range(30)
    ]
    data = {"product": "p", "images": images}

    error = parse_error(data)

    assert len(error.problems) == 30
    assert "and 10 more" in str(error)


def test_images_and_base_may_differ() -> None:
    data = sample_document()
    del data["images"][2]
    data["base"]["z"] = {"name": None, "ordering": 9, "thumbnail": False, "enabled": True}

    parsed = parse_arrangement(data)

    assert [image.id for image in parsed.images] == ["a", "b"]
    assert parsed.base is not None
    assert list(parsed.base) == ["a", "b", "c", "z"]


def test_name_checked_without_base_entry() -> None:
    data = sample_document()
    del data["base"]["c"]

    parsed = parse_arrangement(data)

    assert parsed.images[2].name == " padded "


def test_two_stars_allowed_when_base_has_them() -> None:
    data = sample_document()
    data["base"]["b"]["thumbnail"] = True
    data["images"][1]["thumbnail"] = True

    parsed = parse_arrangement(data)

    assert [image.id for image in parsed.images if image.thumbnail] == ["a", "b"]


def test_parse_does_not_change_input() -> None:
    data = sample_document()
    data["images"][1]["name"] = " New "
    before = copy.deepcopy(data)

    parse_arrangement(data)

    assert data == before


# Server names are kept as they are, even ones the app would reject as a new name.
server_names = st.one_of(st.none(), st.text(max_size=20))


@st.composite
def products(draw: st.DrawFn) -> Product:
    ids = draw(st.lists(st.uuids().map(str), max_size=10, unique=True))
    images = tuple(
        ProductImage(
            image_id,
            draw(server_names),
            f"media/{image_id}.png",
            draw(st.integers(0, 20)),
            draw(st.booleans()),
            draw(st.booleans()),
        )
        for image_id in ids
    )
    return Product(id=str(draw(st.uuids())), name="Random", images=images)


@settings(deadline=None, max_examples=100)
@given(product=products())
def test_round_trip_any_product(product: Product) -> None:
    arrangement = arrangement_from_product(product)
    text = json.dumps(arrangement_to_json(arrangement))

    parsed = parse_arrangement(json.loads(text))

    assert parsed == arrangement
    assert isinstance(parsed, Arrangement)
