"""Fixtures of the journal tests: a journal opened in the test's own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gallery_editor.journal import Journal


@pytest.fixture
def journal_folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def journal(journal_folder: Path) -> Iterator[Journal]:
    opened = Journal(journal_folder)
    yield opened
    opened.close()
