"""Fixtures for save tests: an in-process sandbox and clients with quick retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.domain.models import Product, TargetImage
from gallery_editor.journal import Journal
from gallery_editor.sandbox import SandboxConfig, SandboxServer


def no_wait(_seconds: float) -> None:
    """Sleep replacement: retries happen at once so tests stay fast."""


QUICK_RETRY = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.01, retry_after_cap=0.05, sleep=no_wait)


def start_sandbox(**options: object) -> SandboxServer:
    return SandboxServer(SandboxConfig(seed=5, **options)).start()  # type: ignore[arg-type]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox()
    yield server
    server.stop()


def make_client(server: SandboxServer, retry: RetryPolicy | None = None) -> KelviqClient:
    return KelviqClient(
        server.api_url,
        server.api_key,
        media_url=server.media_url,
        retry=retry if retry is not None else RetryPolicy.none(),
    )


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KelviqClient]:
    with make_client(sandbox) as api_client:
        yield api_client


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal") as opened:
        yield opened


def target_of(product: Product) -> list[TargetImage]:
    """Return the product's current state as a target, in display order."""
    return [
        TargetImage(image.id, image.name, image.thumbnail, image.enabled)
        for image in product.images_in_order()
    ]


def patch_requests(server: SandboxServer) -> list[dict[str, object]]:
    return [entry for entry in server.request_log if entry.get("method") == "PATCH"]
