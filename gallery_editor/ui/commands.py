"""Undo commands that wrap the gallery's edits."""

from __future__ import annotations

import logging

from PySide6.QtGui import QUndoCommand

from gallery_editor.domain.gallery import Edit, Gallery

logger = logging.getLogger(__name__)


class EditCommand(QUndoCommand):
    """One user action on the undo stack: `redo` applies the edit, `undo` reverts it."""

    def __init__(self, gallery: Gallery, edit: Edit, parent: QUndoCommand | None = None) -> None:
        super().__init__(edit.text, parent)
        self.gallery = gallery
        self.edit = edit

    def redo(self) -> None:
        self.gallery.apply(self.edit)

    def undo(self) -> None:
        self.gallery.revert(self.edit)
