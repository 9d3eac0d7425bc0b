"""Seeded catalog content and the in-process catalog methods (colleague edits, added images)."""

from __future__ import annotations

import threading
import unicodedata
import uuid
from collections.abc import Callable

import pytest
from sandbox_support import ordered_ids

from gallery_editor.sandbox import SandboxServer
from gallery_editor.sandbox.catalog import CatalogLookupError
from gallery_editor.sandbox.seeding import TAX_CODES, build_seeded_catalog

pytestmark = pytest.mark.timeout(60)

WELL_KNOWN = ("ten", "sixty", "empty", "awkward", "two_hundred", "ties")


def _all_products(server: SandboxServer) -> list[dict[str, object]]:
    catalog = server.catalog
    return [catalog.get_product(product_id) for product_id in catalog.product_ids()]


@pytest.mark.parametrize("seed", [1, 2, 99])
def test_seeded_shapes_any_seed(make_sandbox: Callable[..., SandboxServer], seed: int) -> None:
    server = make_sandbox(seed=seed)
    catalog = server.catalog
    assert sorted(catalog.well_known) == sorted(WELL_KNOWN)
    products = _all_products(server)
    assert len(products) == 250
    image_counts = {
        name: len(catalog.get_product(catalog.well_known[name])["images"]) for name in WELL_KNOWN
    }
    assert image_counts == {
        "ten": 10,
        "sixty": 60,
        "empty": 0,
        "awkward": 8,
        "two_hundred": 200,
        "ties": 6,
    }
    ties = catalog.get_product(catalog.well_known["ties"])
    assert [image["ordering"] for image in ties["images"]].count(0) >= 3
    others = [product for product in products if product["id"] not in catalog.well_known.values()]
    assert all(1 <= len(product["images"]) <= 12 for product in others)


def test_product_fields_valid(sandbox: SandboxServer) -> None:
    identifiers = set()
    for product in _all_products(sandbox):
        assert uuid.UUID(product["id"]).version == 4
        assert product["identifier"] == product["identifier"].lower()
        assert " " not in product["identifier"]
        identifiers.add(product["identifier"])
        assert product["name"]
        assert product["description"]
        assert product["taxCode"] in TAX_CODES
        assert product["createdBy"]
        assert product["modifiedOn"].endswith("Z")
        thumbnails = [image for image in product["images"] if image["thumbnail"]]
        assert len(thumbnails) <= 1
    assert len(identifiers) == 250


def test_catalog_has_variety(sandbox: SandboxServer) -> None:
    products = _all_products(sandbox)
    images = [image for product in products for image in product["images"]]
    assert any(not image["enabled"] for image in images)
    assert any(image["image"].startswith(sandbox.media_url + "media/products/") for image in images)
    assert any(image["image"].startswith("media/products/") for image in images)
    assert any(not any(image["thumbnail"] for image in product["images"]) for product in products)
    orderings = [
        sorted(image["ordering"] for image in product["images"])
        for product in products
        if product["images"]
    ]
    starts = {values[0] for values in orderings}
    assert {0, 1} <= starts
    dense = [values == list(range(values[0], values[0] + len(values))) for values in orderings]
    assert any(dense)
    assert not all(dense)
    extensions = {image["image"].rsplit(".", 1)[-1] for image in images}
    assert {"jpg", "png", "webp"} <= extensions


def test_names_valid_except_awkward(sandbox: SandboxServer) -> None:
    awkward_id = sandbox.catalog.well_known["awkward"]
    for product in _all_products(sandbox):
        if product["id"] == awkward_id:
            continue
        for image in product["images"]:
            name = image["name"]
            assert isinstance(name, str)
            assert name == name.strip()
            assert 1 <= len(name) <= 255
            assert not any(unicodedata.category(character) == "Cc" for character in name)


def test_awkward_names(sandbox: SandboxServer) -> None:
    names = [
        image["name"]
        for image in sandbox.catalog.get_product(sandbox.catalog.well_known["awkward"])["images"]
    ]
    assert None in names
    assert any(isinstance(name, str) and len(name) > 255 for name in names)
    assert any(isinstance(name, str) and name != name.strip() for name in names)


def test_same_seed_same_catalog() -> None:
    first, first_known = build_seeded_catalog(5)
    second, second_known = build_seeded_catalog(5)
    assert first_known == second_known
    assert [product.id for product in first] == [product.id for product in second]
    assert first == second


def test_seed_changes_content_only() -> None:
    first, first_known = build_seeded_catalog(5)
    second, second_known = build_seeded_catalog(6)
    assert [product.name for product in first] != [product.name for product in second]
    assert len(first) == len(second) == 250
    for name in WELL_KNOWN:
        first_index = [product.id for product in first].index(first_known[name])
        second_index = [product.id for product in second].index(second_known[name])
        assert first_index == second_index, name
        first_product, second_product = first[first_index], second[second_index]
        assert [image.ordering for image in first_product.images] == [
            image.ordering for image in second_product.images
        ]


def test_set_image_fields_like_colleague(sandbox: SandboxServer) -> None:
    catalog = sandbox.catalog
    product_id = catalog.well_known["ten"]
    before = catalog.get_product(product_id)
    target = before["images"][4]
    updated = catalog.set_image_fields(
        product_id, target["id"], thumbnail=True, name=None, ordering=99
    )
    assert updated["name"] is None
    assert updated["ordering"] == 99
    after = catalog.get_product(product_id)
    assert [image["id"] for image in after["images"] if image["thumbnail"]] == [target["id"]]
    assert ordered_ids(after)[-1] == target["id"]
    assert after["modifiedOn"] > before["modifiedOn"]
    assert not [entry for entry in sandbox.request_log if entry["port"] == "api"]


def test_set_image_fields_rejects_unknown(sandbox: SandboxServer) -> None:
    catalog = sandbox.catalog
    product_id = catalog.well_known["ten"]
    image_id = catalog.get_product(product_id)["images"][0]["id"]
    with pytest.raises(ValueError, match="colour"):
        catalog.set_image_fields(product_id, image_id, colour="red")
    with pytest.raises(CatalogLookupError):
        catalog.set_image_fields(product_id, "missing", name="x")
    with pytest.raises(KeyError):
        catalog.get_product("missing")


def test_add_and_delete_image(sandbox: SandboxServer) -> None:
    catalog = sandbox.catalog
    product_id = catalog.well_known["empty"]
    first = catalog.add_image(product_id, name="Upload one")
    second = catalog.add_image(product_id, name="Upload two", thumbnail=True, image_format="png")
    product = catalog.get_product(product_id)
    assert ordered_ids(product) == [first, second]
    by_id = {image["id"]: image for image in product["images"]}
    assert by_id[second]["thumbnail"] is True
    assert by_id[second]["image"].endswith(".png")
    assert by_id[first]["ordering"] < by_id[second]["ordering"]
    catalog.delete_image(product_id, first)
    assert [image["id"] for image in catalog.get_product(product_id)["images"]] == [second]
    with pytest.raises(KeyError):
        catalog.delete_image(product_id, first)


def test_add_image_at_ordering(sandbox: SandboxServer) -> None:
    catalog = sandbox.catalog
    product_id = catalog.well_known["ten"]
    new_id = catalog.add_image(product_id, name="Inserted", ordering=0, enabled=False)
    product = catalog.get_product(product_id)
    order = ordered_ids(product)
    # Ties keep creation order, so the new image follows the old ordering-0 image.
    assert order[1] == new_id
    image = next(image for image in product["images"] if image["id"] == new_id)
    assert image["enabled"] is False


def test_concurrent_edits_are_safe(sandbox: SandboxServer) -> None:
    catalog = sandbox.catalog
    product_id = catalog.well_known["two_hundred"]
    image_ids = [image["id"] for image in catalog.get_product(product_id)["images"]]
    errors: list[BaseException] = []

    def edit(offset: int) -> None:
        try:
            for index in range(offset, len(image_ids), 4):
                catalog.set_image_fields(
                    product_id, image_ids[index], thumbnail=True, name=f"n{index}"
                )
                catalog.get_product(product_id)
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=edit, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    product = catalog.get_product(product_id)
    assert len([image for image in product["images"] if image["thumbnail"]]) == 1
    assert {image["name"] for image in product["images"]} == {f"n{index}" for index in range(200)}
