"""Fixtures of the journal UI tests: a session keeper on a real journal in the test's folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QUndoStack

from gallery_editor.domain.gallery import Gallery
from gallery_editor.ui.session_keeper import SessionKeeper

from keeper_support import API_URL, make_product


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_keeper(qtbot: object, data_dir: Path) -> Iterator[Callable[..., SessionKeeper]]:
    """Open session keepers on the test's data folder and close every one at the end."""
    keepers: list[SessionKeeper] = []

    def opener(**options: object) -> SessionKeeper:
        keeper = SessionKeeper(data_dir, API_URL, **options)  # type: ignore[arg-type]
        keepers.append(keeper)
        return keeper

    yield opener
    for keeper in keepers:
        keeper.close()


@pytest.fixture
def keeper(make_keeper: Callable[..., SessionKeeper]) -> SessionKeeper:
    return make_keeper()


@pytest.fixture
def gallery() -> Gallery:
    return Gallery(make_product("p1", 6))


@pytest.fixture
def stack(qtbot: object) -> Iterator[QUndoStack]:
    undo_stack = QUndoStack()
    yield undo_stack
    undo_stack.clear()
