"""Folders of the app's journal, thumbnail cache, settings and log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gallery_editor import APP_NAME, ORGANIZATION_NAME


@dataclass(frozen=True)
class AppPaths:
    """The folders and files of one installation (or of one `--data-dir`)."""

    data_dir: Path
    cache_dir: Path
    settings_path: Path

    @property
    def journal_dir(self) -> Path:
        return self.data_dir

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def thumbnail_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    @property
    def sandbox_dir(self) -> Path:
        return self.data_dir / "demo-sandbox"

    def create(self) -> None:
        for folder in (self.data_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)


def set_application_names() -> None:
    """Name the app for Qt; must run before any QStandardPaths or QSettings use."""
    from PySide6.QtCore import QCoreApplication

    from gallery_editor import __version__

    QCoreApplication.setOrganizationName(ORGANIZATION_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)


def resolve_paths(data_dir: Path | None) -> AppPaths:
    """Use `data_dir` for everything when given, else the platform's folders."""
    if data_dir is not None:
        root = data_dir.expanduser().resolve()
        return AppPaths(root, root / "cache", root / "settings.ini")

    from PySide6.QtCore import QStandardPaths

    set_application_names()
    data = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    cache = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation))
    config = Path(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    )
    return AppPaths(data, cache, config / "settings.ini")
