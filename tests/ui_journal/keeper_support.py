"""Products, seeded edit steps and child processes shared by the session keeper tests."""

from __future__ import annotations

import os
import random
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtGui import QUndoStack

from gallery_editor.domain.gallery import Gallery
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.session_keeper import encode_history

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CHILD_SCRIPT = Path(__file__).resolve().with_name("keeper_child.py")

# The base URL only labels rows in the journal, and nothing connects to it.
API_URL = "http://127.0.0.1:8765/api/v1"

# Generous: a journal write is a few milliseconds, but CI disks can stall.
PERSIST_TIMEOUT_MS = 10_000


def make_product(product_id: str = "p1", image_count: int = 6, name: str | None = None) -> Product:
    """Build a product with null and non-ASCII names, one thumbnail and a hidden image."""
    images = tuple(
        ProductImage(
            id=f"{product_id}-img-{index}",
            name=None if index == 1 else f"Bild «{index}»",
            image=f"/media/catalog/{product_id}/{index}.jpg",
            ordering=index * 10,
            thumbnail=index == 0,
            enabled=index != 2,
        )
        for index in range(image_count)
    )
    return Product(
        id=product_id,
        name=name if name is not None else f"Product {product_id}",
        images=images,
        identifier=f"SKU-{product_id}",
        description="",
        tax_code="txcd_99999999",
        created_by="merchandiser@example.com",
        modified_on="2024-05-01T10:00:00Z",
        plans=(),
    )


def product_as_saved(gallery: Gallery) -> Product:
    """Build the product the server would return after saving the gallery's working state."""
    images = tuple(
        ProductImage(
            id=image.id,
            name=image.name,
            image=image.image,
            ordering=position,
            thumbnail=image.thumbnail,
            enabled=image.enabled,
        )
        for position, image in enumerate(gallery.working_images())
    )
    snapshot = gallery.snapshot
    return Product(
        id=snapshot.id,
        name=snapshot.name,
        images=images,
        identifier=snapshot.identifier,
        description=snapshot.description,
        tax_code=snapshot.tax_code,
        created_by=snapshot.created_by,
        modified_on="2024-05-02T10:00:00Z",
        plans=snapshot.plans,
    )


def working_state(gallery: Gallery) -> dict[str, Any]:
    """The order and fields of a gallery, without the user-move tie-breaker counts."""
    state = gallery.state_to_json()
    return {"order": state["order"], "fields": state["fields"]}


def push_edit(gallery: Gallery, stack: QUndoStack, rng: random.Random) -> None:
    """Push one random edit that changes something: a move, rename, star or show/hide."""
    while True:
        kind = rng.choice(("move", "move", "rename", "thumbnail", "enabled"))
        image_id = gallery.id_at(rng.randrange(len(gallery)))
        if kind == "move":
            edit = gallery.make_move([image_id], rng.randrange(len(gallery) + 1))
        elif kind == "rename":
            edit = gallery.make_rename(image_id, f"name {rng.randrange(1000)}")
        elif kind == "thumbnail":
            edit = gallery.make_toggle_thumbnail(image_id)
        else:
            edit = gallery.make_set_enabled([image_id], not gallery.fields(image_id).enabled)
        if edit is not None:
            stack.push(EditCommand(gallery, edit))
            return


def push_macro(gallery: Gallery, stack: QUndoStack, rng: random.Random) -> None:
    """Push two or three random edits as one undo macro."""
    stack.beginMacro("Several changes")
    for _ in range(rng.randint(2, 3)):
        push_edit(gallery, stack, rng)
    stack.endMacro()


def take_step(
    gallery: Gallery, stack: QUndoStack, rng: random.Random, *, pushes_only: bool
) -> None:
    """Change the stack once: push an edit or a macro, or (unless pushes_only) undo or redo."""
    choices = ["edit", "edit", "edit", "macro"]
    if not pushes_only:
        if stack.canUndo():
            choices += ["undo", "undo"]
        if stack.canRedo():
            choices += ["redo"]
    choice = rng.choice(choices)
    if choice == "edit":
        push_edit(gallery, stack, rng)
    elif choice == "macro":
        push_macro(gallery, stack, rng)
    elif choice == "undo":
        stack.undo()
    else:
        stack.redo()


@dataclass(frozen=True)
class Expected:
    """The session the journal must contain after a step, with None fields for "no session"."""

    state: dict[str, Any] | None
    history: list[dict[str, Any]] | None
    index: int | None


def expected_after_steps(
    product: Product, seed: int, steps: int, *, pushes_only: bool
) -> list[Expected]:
    """Replay the seeded steps and return what the journal should hold after each one.

    Element 0 is the state before any step. A session back at the server state with
    the index at 0 is discarded, so it is expected as "no session".
    """
    gallery = Gallery(product)
    stack = QUndoStack()
    rng = random.Random(seed)
    expected = [Expected(None, None, None)]
    for _ in range(steps):
        take_step(gallery, stack, rng, pushes_only=pushes_only)
        if stack.index() == 0 and not gallery.is_modified():
            expected.append(Expected(None, None, None))
        else:
            expected.append(Expected(working_state(gallery), encode_history(stack), stack.index()))
    stack.clear()
    return expected


class ChildProcess:
    """``keeper_child.py`` in a new Python process, with its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        environment = dict(os.environ)
        paths = [str(REPOSITORY_ROOT), str(CHILD_SCRIPT.parent), environment.get("PYTHONPATH")]
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
        environment["QT_QPA_PLATFORM"] = "offscreen"
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD_SCRIPT), *args],
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def next_line(self, timeout: float) -> str | None:
        """Return the next stdout line, or None once the child closed its stdout."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the child printed nothing for {timeout} s") from None

    def kill(self) -> None:
        """Send SIGKILL and wait for the process to end."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stderr(self) -> str:
        self.process.wait(timeout=30)
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self._reader.join(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)
