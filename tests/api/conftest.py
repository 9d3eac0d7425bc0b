"""Fixtures for API client tests: a sandbox server on loopback and clients aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.sandbox import SandboxConfig, SandboxServer

# Short enough to keep timeout tests quick, long enough for a loaded CI machine.
TEST_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class RequestRecorder:
    """httpx event hook that records every request the client sends, after authentication."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=3)) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """Delays requested by the retry policy, which records them instead of sleeping."""
    return []


@pytest.fixture
def recorder() -> RequestRecorder:
    return RequestRecorder()


@pytest.fixture
def make_client(
    sandbox: SandboxServer, sleeps: list[float], recorder: RequestRecorder
) -> Iterator[Callable[..., KelviqClient]]:
    """Factory of clients for the sandbox; keyword arguments override the defaults."""
    clients: list[KelviqClient] = []

    def make(**overrides: object) -> KelviqClient:
        options: dict[str, object] = {
            "media_url": sandbox.media_url,
            "retry": RetryPolicy(sleep=sleeps.append),
            "timeout": TEST_TIMEOUT,
            "event_hooks": {"request": [recorder]},
        }
        options.update(overrides)
        api_key = options.pop("api_key", sandbox.api_key)
        client = KelviqClient(sandbox.api_url, api_key, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., KelviqClient]) -> KelviqClient:
    return make_client()


@pytest.fixture
def sandbox_rate_limited() -> Iterator[SandboxServer]:
    """A sandbox that accepts one API request per second and responds 429 with Retry-After: 1."""
    with SandboxServer(SandboxConfig(seed=3, rate_limit=1, retry_after=True)) as server:
        yield server
