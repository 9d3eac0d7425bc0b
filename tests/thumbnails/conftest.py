"""Fixtures for the thumbnail tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thumbnail_support import MediaServer


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    """A loopback HTTP server with ETags, 304s, stalls and trickles, stopped after the test."""
    server = MediaServer()
    server.start()
    yield server
    server.stop()
