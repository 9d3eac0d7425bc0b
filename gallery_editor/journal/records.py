"""Records the journal returns: saved editing sessions and sent PATCH requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery_editor.domain.models import Product


@dataclass(frozen=True, slots=True)
class Session:
    """Unsaved edits of one product, with the server snapshot they were made against."""

    base_url: str
    product_id: str
    product_name: str
    snapshot: Product
    state: dict[str, Any]
    history: list[dict[str, Any]]
    history_index: int
    change_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A saved session without its data, for listing the products with unsaved edits."""

    base_url: str
    product_id: str
    product_name: str
    change_count: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SentPatch:
    """A PATCH request recorded before sending; ``acknowledged_at`` is set after a 2xx response."""

    id: int
    base_url: str
    product_id: str
    image_id: str
    body: dict[str, Any]
    sent_at: datetime
    acknowledged_at: datetime | None
