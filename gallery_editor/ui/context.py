"""Start-up settings that the main window takes from the command line and the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gallery_editor.api import KelviqClient
    from gallery_editor.sandbox import SandboxServer


@dataclass
class AppContext:
    """Connection, folders and start-up choices shared by the window's parts."""

    client: KelviqClient
    data_dir: Path
    cache_dir: Path
    settings_path: Path
    initial_product_id: str | None = None
    concurrency: int | None = None
    sandbox: SandboxServer | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.client.base_url
