"""Load the app's SVG icons from the installed package data or the source tree."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

logger = logging.getLogger(__name__)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent

# Installed: package data next to the code. Source checkout: the repository's resources folder.
ICON_DIRS: tuple[Path, ...] = (
    _PACKAGE_DIR / "resources" / "icons",
    _PACKAGE_DIR.parent / "resources" / "icons",
)


def icon_path(name: str) -> Path | None:
    """Return the SVG file of icon `name` (without ``.svg``), or None when it is missing."""
    for folder in ICON_DIRS:
        candidate = folder / f"{name}.svg"
        if candidate.is_file():
            return candidate
    return None


@cache
def icon(name: str) -> QIcon:
    """Return icon `name`; an empty icon (logged once) when its file is missing."""
    path = icon_path(name)
    if path is None:
        logger.warning(
            "Icon %r not found in %s; the action shows its text only. "
            "Reinstall the package or run from the source tree.",
            name,
            ", ".join(str(folder) for folder in ICON_DIRS),
        )
        return QIcon()
    return QIcon(str(path))
