"""Response value passed between the sandbox API routes, control routes and fault injection."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ApiResponse:
    """A response before it is sent; ``raw`` replaces the JSON encoding of ``payload``."""

    status: int
    payload: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
