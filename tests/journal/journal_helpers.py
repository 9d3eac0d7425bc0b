"""Builders of products and processes shared by the journal tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gallery_editor.domain.models import Product, ProductImage

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CHILD_SCRIPT = Path(__file__).resolve().with_name("journal_child.py")

# Base URLs only label rows in the journal; nothing connects to them.
API_URL = "http://127.0.0.1:8765/api/v1"
OTHER_API_URL = "http://127.0.0.1:8766/api/v1"


def make_product(product_id: str, image_count: int = 3, name: str | None = None) -> Product:
    """Build a product whose images cover null names, non-ASCII text and every flag."""
    images = tuple(
        ProductImage(
            id=f"{product_id}-img-{index}",
            name=None if index == 1 else f"Bild «{index}» of {product_id}",
            image=f"/media/catalog/{product_id}/{index}.jpg",
            ordering=index * 10,
            thumbnail=index == 0,
            enabled=index % 3 != 2,
        )
        for index in range(image_count)
    )
    return Product(
        id=product_id,
        name=name if name is not None else f"Product {product_id}",
        images=images,
        identifier=f"SKU-{product_id}",
        description="Ünïcode description\nwith a line break",
        tax_code="txcd_99999999",
        created_by="merchandiser@example.com",
        modified_on="2024-05-01T10:00:00Z",
        plans=("plan-a", "plan-b"),
    )


def start_child(*args: str) -> subprocess.Popen[str]:
    """Start ``journal_child.py`` with ``args`` in a new Python process."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPOSITORY_ROOT), environment.get("PYTHONPATH")])
    )
    return subprocess.Popen(
        [sys.executable, str(CHILD_SCRIPT), *args],
        cwd=REPOSITORY_ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
