"""State file of a sandbox ``data_dir``: changed products, written atomically after each change."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

STATE_FILE_NAME = "sandbox-state.json"


class StateFile:
    """Reads and writes ``<data_dir>/sandbox-state.json``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STATE_FILE_NAME

    def load(self) -> dict[str, object] | None:
        """Return the saved state, or None when there is none yet."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        try:
            state = json.loads(text)
        except ValueError as error:
            raise ValueError(
                f"invalid sandbox state file {self.path}: {error}; fix or delete it to start "
                "from the seeded catalog"
            ) from None
        if not isinstance(state, dict):
            raise ValueError(f"invalid sandbox state file {self.path}: expected a JSON object")
        return state

    def save(self, state: dict[str, object]) -> None:
        """Write ``state`` to a temporary file and rename it over the state file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=".sandbox-state-", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(state, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
