"""Child process of the crash tests, run as a script: edits a gallery through a SessionKeeper.

Usage: keeper_child.py DATA_DIR SEED STEPS MODE

MODE "paced" takes one seeded step (push, macro, undo or redo), waits until the keeper
reports it persisted and prints "persisted STEP INDEX" before the next step. MODE
"burst" pushes an edit every millisecond without waiting and prints
"persisted INDEX" for every write the keeper reports. Both print "done" at the end.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QUndoStack

from gallery_editor.domain.gallery import Gallery
from gallery_editor.ui.session_keeper import SessionKeeper
from keeper_support import API_URL, make_product, take_step

CRASH_PRODUCT_ID = "crash"
CRASH_IMAGE_COUNT = 8
# The wait between burst steps: short enough that edits outpace the writes, so they merge.
BURST_STEP_MS = 1


class Driver:
    """Takes the seeded steps and prints what the keeper acknowledged."""

    def __init__(self, data_dir: Path, seed: int, steps: int, mode: str) -> None:
        self.keeper = SessionKeeper(data_dir, API_URL)
        self.gallery = Gallery(make_product(CRASH_PRODUCT_ID, CRASH_IMAGE_COUNT))
        self.stack = QUndoStack()
        self.rng = random.Random(seed)
        self.steps = steps
        self.taken = 0
        self.paced = mode == "paced"
        self.keeper.persist_failed.connect(self.on_failed)
        self.keeper.edit_persisted.connect(self.on_persisted)
        self.keeper.track(self.gallery, self.stack, "Crash test product")

    def step(self) -> None:
        if self.taken == self.steps:
            self.finish()
            return
        take_step(self.gallery, self.stack, self.rng, pushes_only=not self.paced)
        self.taken += 1
        if not self.paced:
            QTimer.singleShot(BURST_STEP_MS, self.step)

    def on_persisted(self, product_id: str, index: int) -> None:
        if self.paced:
            print(f"persisted {self.taken} {index}", flush=True)
            QTimer.singleShot(0, self.step)
        else:
            print(f"persisted {index}", flush=True)

    def on_failed(self, message: str) -> None:
        print(f"failed {message}", file=sys.stderr, flush=True)
        QCoreApplication.exit(3)

    def finish(self) -> None:
        self.keeper.close()
        print("done", flush=True)
        QCoreApplication.quit()


def main(arguments: list[str]) -> int:
    data_dir, seed, steps, mode = arguments
    if mode not in ("paced", "burst"):
        raise SystemExit(f"unknown mode {mode!r}: use 'paced' or 'burst'")
    app = QCoreApplication([sys.argv[0]])
    driver = Driver(Path(data_dir), int(seed), int(steps), mode)
    QTimer.singleShot(0, driver.step)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
