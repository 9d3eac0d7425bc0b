"""Both readings of ``ordering``: stored sort key ("value") and shifting positions ("position")."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sandbox_support import image_path, ordered_ids, product_path

from gallery_editor.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)


def _orderings(product: dict[str, object]) -> list[int]:
    return [image["ordering"] for image in product["images"]]


def test_value_stores_number_as_sent(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(ordering_semantics="value")
    client = make_client(server)
    product_id = server.catalog.well_known["ten"]
    before = client.get(product_path(product_id)).json()
    moved = before["images"][0]["id"]
    response = client.patch(image_path(product_id, moved), json={"ordering": 1000})
    assert response.json()["ordering"] == 1000
    after = client.get(product_path(product_id)).json()
    assert ordered_ids(after) == ordered_ids(before)[1:] + [moved]
    assert _orderings(after) == list(range(1, 10)) + [1000]


def test_value_lists_by_ordering_then_creation(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(ordering_semantics="value")
    client = make_client(server)
    product_id = server.catalog.well_known["ties"]
    product = client.get(product_path(product_id)).json()
    assert _orderings(product) == sorted(_orderings(product))
    last = product["images"][-1]["id"]
    client.patch(image_path(product_id, last), json={"ordering": 0})
    after = client.get(product_path(product_id)).json()
    # The image created last sorts after the older images that share ordering 0.
    zero_ids = [image["id"] for image in after["images"] if image["ordering"] == 0]
    assert zero_ids[-1] == last
    assert len(zero_ids) == 5
    assert [image["id"] for image in after["images"]] == ordered_ids(after)


def test_value_keeps_gaps_and_duplicates(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(ordering_semantics="value")
    client = make_client(server)
    product_id = server.catalog.well_known["sixty"]
    product = client.get(product_path(product_id)).json()
    assert _orderings(product)[:3] == [10, 20, 30]
    third = product["images"][2]["id"]
    client.patch(image_path(product_id, third), json={"ordering": 10})
    after = client.get(product_path(product_id)).json()
    assert _orderings(after)[:3] == [10, 10, 20]
    assert [image["id"] for image in after["images"]][:2] == [product["images"][0]["id"], third]


def test_position_reports_dense_values(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(ordering_semantics="position")
    for name in ("sixty", "ties", "awkward", "two_hundred"):
        product = server.catalog.get_product(server.catalog.well_known[name])
        assert _orderings(product) == list(range(len(product["images"]))), name


def test_position_same_order_as_value(make_sandbox: Callable[..., SandboxServer]) -> None:
    by_value = make_sandbox(ordering_semantics="value", seed=4)
    by_position = make_sandbox(ordering_semantics="position", seed=4)
    for product_id in by_value.catalog.product_ids():
        assert ordered_ids(by_value.catalog.get_product(product_id)) == ordered_ids(
            by_position.catalog.get_product(product_id)
        )


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (0, 3, [1, 2, 3, 0, 4, 5, 6, 7, 8, 9]),
        (7, 2, [0, 1, 7, 2, 3, 4, 5, 6, 8, 9]),
        (4, 0, [4, 0, 1, 2, 3, 5, 6, 7, 8, 9]),
        (2, 9, [0, 1, 3, 4, 5, 6, 7, 8, 9, 2]),
        (2, 10, [0, 1, 3, 4, 5, 6, 7, 8, 9, 2]),
        (2, 500, [0, 1, 3, 4, 5, 6, 7, 8, 9, 2]),
        (5, 5, list(range(10))),
    ],
)
def test_position_moves_and_shifts(
    make_sandbox: Callable[..., SandboxServer],
    make_client: Callable[..., httpx.Client],
    source: int,
    target: int,
    expected: list[int],
) -> None:
    server = make_sandbox(ordering_semantics="position")
    client = make_client(server)
    product_id = server.catalog.well_known["ten"]
    before = ordered_ids(client.get(product_path(product_id)).json())
    moved = before[source]
    response = client.patch(image_path(product_id, moved), json={"ordering": target})
    assert response.json()["ordering"] == min(target, 9)
    after = client.get(product_path(product_id)).json()
    assert ordered_ids(after) == [before[index] for index in expected]
    assert _orderings(after) == list(range(10))


def test_position_dense_fallback_converges(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    """Writing 0..n-1 in the expected order, one image at a time, gives that order."""
    server = make_sandbox(ordering_semantics="position")
    client = make_client(server)
    product_id = server.catalog.well_known["ten"]
    expected = list(reversed(ordered_ids(client.get(product_path(product_id)).json())))
    for place, image_id in enumerate(expected):
        client.patch(image_path(product_id, image_id), json={"ordering": place})
    assert ordered_ids(client.get(product_path(product_id)).json()) == expected


def test_position_delete_compacts(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(ordering_semantics="position")
    client = make_client(server)
    product_id = server.catalog.well_known["ten"]
    before = ordered_ids(client.get(product_path(product_id)).json())
    assert client.delete(image_path(product_id, before[3])).status_code == 204
    after = client.get(product_path(product_id)).json()
    assert ordered_ids(after) == before[:3] + before[4:]
    assert _orderings(after) == list(range(9))


def test_position_added_image(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(ordering_semantics="position")
    catalog = server.catalog
    product_id = catalog.well_known["ten"]
    before = ordered_ids(catalog.get_product(product_id))
    last = catalog.add_image(product_id, name="Last")
    first = catalog.add_image(product_id, name="First", ordering=0)
    after = catalog.get_product(product_id)
    assert ordered_ids(after) == [first, *before, last]
    assert _orderings(after) == list(range(12))
