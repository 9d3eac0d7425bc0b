"""Fixtures for the review dock and conflict dialog tests: products, galleries, undo stacks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QWidget

from gallery_editor.domain.gallery import Edit, Gallery
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.review_dock import ReviewDock

from review_support import make_product

# Set to a folder to keep the screenshots the tests render, for looking at them.
SCREENSHOT_DIR_VARIABLE = "GALLERY_EDITOR_SCREENSHOT_DIR"


@pytest.fixture
def undo_stack(qtbot: QtBot) -> Iterator[QUndoStack]:
    stack = QUndoStack()
    yield stack
    stack.clear()


@pytest.fixture
def gallery() -> Gallery:
    return Gallery(make_product())


@pytest.fixture
def dock(qtbot: QtBot, gallery: Gallery, undo_stack: QUndoStack) -> ReviewDock:
    widget = ReviewDock()
    qtbot.addWidget(widget)
    widget.resize(420, 640)
    widget.set_gallery(gallery, undo_stack)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def push(undo_stack: QUndoStack, gallery: Gallery) -> Callable[[Edit | None], None]:
    """Push an edit the way the main window does, as an undo command."""

    def push_edit(edit: Edit | None) -> None:
        assert edit is not None, "the edit changed nothing"
        undo_stack.push(EditCommand(gallery, edit))

    return push_edit


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[QWidget, str], Path]:
    """Render a widget to a PNG and return its path."""
    folder = Path(os.environ.get(SCREENSHOT_DIR_VARIABLE) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def save(widget: QWidget, name: str) -> Path:
        path = folder / f"{name}.png"
        assert widget.grab().save(str(path)), f"could not write the screenshot {path}"
        return path

    return save
