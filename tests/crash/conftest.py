"""Fixtures of the crash tests: one sandbox process per module and a fresh app folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crash_support import SandboxProcess


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    folder = tmp_path_factory.mktemp("sandbox")
    process = SandboxProcess(folder / "data", folder / "requests.jsonl")
    yield process
    process.stop()


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return tmp_path / "app"
