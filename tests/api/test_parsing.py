"""Unit tests of the strict JSON-to-model parsing of API responses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gallery_editor.api import InvalidResponseError
from gallery_editor.api.parsing import parse_image, parse_product, parse_product_page
from gallery_editor.domain.models import Product, ProductImage, product_to_json

pytestmark = pytest.mark.timeout(10)


def make_image_json(**overrides: object) -> dict[str, Any]:
    image: dict[str, Any] = {
        "id": "6a0e3f1c-0000-4000-8000-000000000001",
        "name": "Front view",
        "image": "media/products/p1/i1/front.jpg",
        "ordering": 0,
        "thumbnail": True,
        "enabled": True,
    }
    image.update(overrides)
    return image


def make_product_json() -> dict[str, Any]:
    return {
        "id": "0b8f2a4e-0000-4000-8000-000000000000",
        "identifier": "desk-lamp",
        "name": "Desk lamp",
        "description": "A lamp.",
        "taxCode": "saas",
        "createdBy": "Ada",
        "modifiedOn": "2026-08-01T10:00:00Z",
        "images": [
            make_image_json(),
            make_image_json(id="6a0e3f1c-0000-4000-8000-000000000002", name=None, ordering=1, thumbnail=False),
            make_image_json(id="6a0e3f1c-0000-4000-8000-000000000003", ordering=2, thumbnail=False),
            make_image_json(id="6a0e3f1c-0000-4000-8000-000000000004", ordering=3, enabled=False, thumbnail=False),
        ],
        "plans": ["basic", "pro"],
    }


def test_product_round_trip() -> None:
    """parse_product(product_to_json(p)) == p for a product with every field set."""
    product = parse_product(make_product_json())

    assert parse_product(product_to_json(product)) == product


def test_product_round_trip_minimal() -> None:
    """A product without optional fields or plans survives the round trip."""
    product = Product(id="p", name="Bare", images=(ProductImage("i", None, "https://x/i.png", 5, False, True),))

    assert parse_product(product_to_json(product)) == product


def test_product_fields_mapped() -> None:
    """camelCase keys land in the matching model fields, and images keep array order."""
    product = parse_product(make_product_json())

    assert product.tax_code == "saas"
    assert product.created_by == "Ada"
    assert product.modified_on == "2026-08-01T10:00:00Z"
    assert product.plans == ("basic", "pro")
    assert [image.ordering for image in product.images] == [0, 1, 2, 3]
    assert product.images[1].name is None
    assert product.images[3].enabled is False


def test_unknown_keys_ignored() -> None:
    """Keys the app does not know are ignored at every level."""
    data = make_product_json()
    data["archived"] = False
    data["images"][0]["width"] = 1600

    assert parse_product(data) == parse_product(make_product_json())


def test_optional_fields_may_be_null_or_missing() -> None:
    """Optional product fields and the image name may be null or absent."""
    data = make_product_json()
    data["description"] = None
    del data["taxCode"]
    del data["plans"]
    del data["images"][0]["name"]

    product = parse_product(data)

    assert product.description is None
    assert product.tax_code is None
    assert product.plans is None
    assert product.images[0].name is None


def _set(path: tuple[Any, ...], value: object) -> dict[str, Any]:
    data = make_product_json()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _delete(path: tuple[Any, ...]) -> dict[str, Any]:
    data = make_product_json()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


BAD_PRODUCTS = [
    pytest.param(_set(("images", 3, "ordering"), "2"), 'images[3].ordering: expected an integer, got "2"', id="ordering-string"),
    pytest.param(_set(("images", 0, "ordering"), True), "images[0].ordering: expected an integer, got true", id="ordering-bool"),
    pytest.param(_set(("images", 0, "ordering"), 1.5), "images[0].ordering: expected an integer, got 1.5", id="ordering-float"),
    pytest.param(_set(("images", 1, "thumbnail"), 0), "images[1].thumbnail: expected a boolean, got 0", id="thumbnail-int"),
    pytest.param(_set(("images", 2, "enabled"), "true"), 'images[2].enabled: expected a boolean, got "true"', id="enabled-string"),
    pytest.param(_set(("images", 0, "name"), 7), "images[0].name: expected a string or null, got 7", id="image-name-int"),
    pytest.param(_set(("images", 0, "image"), None), "images[0].image: expected a string, got null", id="image-null"),
    pytest.param(_set(("images", 0, "id"), ""), 'images[0].id: expected a non-empty string, got ""', id="image-id-empty"),
    pytest.param(_set(("images", 2), ["x"]), "images[2]: expected a JSON object, got a list", id="image-not-object"),
    pytest.param(_set(("images",), {"a": 1}), "images: expected a list, got an object", id="images-object"),
    pytest.param(_set(("id",), 12), "id: expected a non-empty string, got 12", id="id-int"),
    pytest.param(_set(("name",), None), "name: expected a string, got null", id="name-null"),
    pytest.param(_set(("taxCode",), 3), "taxCode: expected a string or null, got 3", id="taxcode-int"),
    pytest.param(_set(("plans",), "pro"), 'plans: expected a list of strings or null, got "pro"', id="plans-string"),
    pytest.param(_set(("plans", 1), 2), "plans[1]: expected a string, got 2", id="plan-int"),
    pytest.param(_delete(("id",)), "id: required field is missing", id="missing-id"),
    pytest.param(_delete(("name",)), "name: required field is missing", id="missing-name"),
    pytest.param(_delete(("images",)), "images: required field is missing", id="missing-images"),
    pytest.param(_delete(("images", 2, "ordering")), "images[2].ordering: required field is missing", id="missing-ordering"),
    pytest.param(_delete(("images", 0, "thumbnail")), "images[0].thumbnail: required field is missing", id="missing-thumbnail"),
    pytest.param(_delete(("images", 1, "enabled")), "images[1].enabled: required field is missing", id="missing-enabled"),
    pytest.param(_delete(("images", 1, "image")), "images[1].image: required field is missing", id="missing-image"),
    pytest.param(_delete(("images", 1, "id")), "images[1].id: required field is missing", id="missing-image-id"),
]


@pytest.mark.parametrize(("data", "message"), BAD_PRODUCTS)
def test_bad_product_rejected(data: dict[str, Any], message: str) -> None:
    """Each breach raises InvalidResponseError naming the field, the expectation and the value."""
    with pytest.raises(InvalidResponseError) as caught:
        parse_product(data)

    assert caught.value.message == message


@pytest.mark.parametrize("data", [None, [], "product", 3, True])
def test_product_not_object_rejected(data: object) -> None:
    """A body that is not a JSON object is rejected with the kind that arrived."""
    with pytest.raises(InvalidResponseError, match=r"^product: expected a JSON object"):
        parse_product(data)


def test_long_value_shortened_in_message() -> None:
    """A long wrong value is cut in the message instead of flooding it."""
    data = _set(("images", 0, "ordering"), "9" * 500)

    with pytest.raises(InvalidResponseError) as caught:
        parse_product(data)

    assert len(caught.value.message) < 120
    assert caught.value.message.endswith("…")


def test_parse_image_standalone() -> None:
    """A PATCH response (one image) parses with field names at the top level."""
    image = parse_image(make_image_json(ordering=4))

    assert image == ProductImage(
        id="6a0e3f1c-0000-4000-8000-000000000001",
        name="Front view",
        image="media/products/p1/i1/front.jpg",
        ordering=4,
        thumbnail=True,
        enabled=True,
    )
    with pytest.raises(InvalidResponseError, match=r'^ordering: expected an integer, got "4"$'):
        parse_image(make_image_json(ordering="4"))


def make_page_json() -> dict[str, Any]:
    return {"count": 250, "next": "http://h/api/v1/catalog/products/?page=2", "previous": None,
            "results": [make_product_json()]}


def test_page_parsed() -> None:
    """A paginated list body gives count, links and parsed products."""
    page = parse_product_page(make_page_json())

    assert page.count == 250
    assert page.next == "http://h/api/v1/catalog/products/?page=2"
    assert page.previous is None
    assert page.results == (parse_product(make_product_json()),)


MISSING = object()

BAD_PAGES = [
    pytest.param("count", MISSING, "count: required field is missing", id="missing-count"),
    pytest.param("next", MISSING, "next: required field is missing", id="missing-next"),
    pytest.param("previous", MISSING, "previous: required field is missing", id="missing-previous"),
    pytest.param("results", MISSING, "results: required field is missing", id="missing-results"),
    pytest.param("count", "250", 'count: expected an integer, got "250"', id="count-string"),
    pytest.param("count", -1, "count: expected a non-negative integer, got -1", id="count-negative"),
    pytest.param("next", 2, "next: expected a string or null, got 2", id="next-int"),
    pytest.param("results", {}, "results: expected a list, got an object", id="results-object"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_PAGES)
def test_bad_page_rejected(key: str, value: object, message: str) -> None:
    """Missing or mistyped pagination keys raise InvalidResponseError naming the key."""
    data = make_page_json()
    if value is MISSING:
        del data[key]
    else:
        data[key] = value

    with pytest.raises(InvalidResponseError) as caught:
        parse_product_page(data)

    assert caught.value.message == message


def test_bad_product_in_page_named_by_index() -> None:
    """An error inside a listed product names its place in results."""
    data = make_page_json()
    data["results"] = [make_product_json(), copy.deepcopy(make_product_json())]
    data["results"][1]["images"][2]["thumbnail"] = "no"

    with pytest.raises(InvalidResponseError) as caught:
        parse_product_page(data)

    assert caught.value.message == 'results[1].images[2].thumbnail: expected a boolean, got "no"'
