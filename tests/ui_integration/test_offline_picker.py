"""The product picker lists products opened before when the API cannot be reached."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.journal import Journal
from gallery_editor.ui.product_picker import ProductPicker, matching


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def product(product_id: str, name: str) -> Product:
    image = ProductImage(f"{product_id}-1", "Front", "media/x.jpg", 0, True, True)
    return Product(product_id, name, (image,), identifier=name.lower().replace(" ", "-"))


def test_matching_ignores_case() -> None:
    """Offline search matches name and identifier without regard to case."""
    products = [product("a", "Blue Mug"), product("b", "Red Cup")]
    assert [p.id for p in matching(products, "mug")] == ["a"]
    assert [p.id for p in matching(products, "RED-cup")] == ["b"]
    assert [p.id for p in matching(products, "  ")] == ["a", "b"]


@pytest.mark.timeout(60)
def test_picker_falls_back_to_offline_copies(qtbot, tmp_path: Path) -> None:
    """An unreachable API gives the cached products, marked as offline."""
    base_url = f"http://127.0.0.1:{closed_port()}/api/v1"
    with Journal(tmp_path) as journal:
        journal.cache_product(base_url, product("a", "Blue Mug"))
        journal.cache_product(base_url, product("b", "Red Cup"))

    def offline_source() -> list[Product]:
        with Journal(tmp_path) as reader:
            return [cached for cached, _ in reader.cached_products(base_url)]

    client = KelviqClient(
        base_url, "test-key", media_url="http://127.0.0.1:9/", retry=RetryPolicy.none()
    )
    picker = ProductPicker(client, offline_source=offline_source)
    qtbot.addWidget(picker)
    picker.search_box.setText("cup")

    with qtbot.waitSignal(picker.search_finished, timeout=30_000):
        picker.search_now()

    assert picker.results.count() == 1
    assert picker.results.item(0).text().startswith("Red Cup")
    assert picker.status.text().startswith("Offline")
    client.close()
