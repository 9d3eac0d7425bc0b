"""Fixtures for sandbox tests: servers on loopback and httpx clients aimed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from gallery_editor.sandbox import SandboxConfig, SandboxServer

TEST_TIMEOUT = httpx.Timeout(10.0, connect=2.0)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Factory of started sandboxes; keyword arguments are SandboxConfig options."""
    servers: list[SandboxServer] = []

    def make(**options: object) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**options))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(seed=7)


@pytest.fixture
def make_client() -> Iterator[Callable[[SandboxServer], httpx.Client]]:
    """Factory of httpx clients that send the sandbox's bearer key to its API URL."""
    clients: list[httpx.Client] = []

    def make(server: SandboxServer, **options: object) -> httpx.Client:
        settings: dict[str, object] = {
            "base_url": server.api_url + "/",
            "headers": {"Authorization": f"Bearer {server.api_key}"},
            "timeout": TEST_TIMEOUT,
            **options,
        }
        client = httpx.Client(**settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(
    sandbox: SandboxServer, make_client: Callable[[SandboxServer], httpx.Client]
) -> httpx.Client:
    return make_client(sandbox)
