"""Run the app with ``python -m gallery_editor``."""

import sys

from gallery_editor.cli import main

sys.exit(main())
