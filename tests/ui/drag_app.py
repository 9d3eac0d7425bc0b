"""Child process for the real drag test: a sandbox, a window on the ten-image product, test control.

Run with ``QT_QPA_PLATFORM=xcb`` and ``DISPLAY`` set; commands arrive on standard input.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gallery_editor.api import KelviqClient
from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.ui.context import AppContext
from gallery_editor.ui.gallery_delegate import MIN_EDGE
from gallery_editor.ui.main_window import MainWindow
from gallery_editor.ui.test_control import install_test_control

logger = logging.getLogger(__name__)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = QApplication([sys.argv[0]])
    with SandboxServer(SandboxConfig(seed=5)) as sandbox, tempfile.TemporaryDirectory() as folder:
        client = KelviqClient(sandbox.api_url, sandbox.api_key, media_url=sandbox.media_url)
        root = Path(folder)
        context = AppContext(
            client=client,
            data_dir=root / "data",
            cache_dir=root / "cache",
            settings_path=root / "settings.ini",
            sandbox=sandbox,
        )
        window = MainWindow(context)
        window.setGeometry(0, 0, 1000, 700)
        window.zoom_slider().setValue(MIN_EDGE + 32)
        window.show()
        install_test_control(window)
        window.open_product(sandbox.catalog.well_known["ten"])
        code = app.exec()
        window.shutdown()
        client.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
