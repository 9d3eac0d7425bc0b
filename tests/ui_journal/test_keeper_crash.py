"""SIGKILL a process editing through a SessionKeeper: nothing it reported as persisted is lost."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtGui import QUndoStack

from gallery_editor.domain.gallery import Gallery
from gallery_editor.ui.session_keeper import SessionKeeper, encode_history
from keeper_child import CRASH_IMAGE_COUNT, CRASH_PRODUCT_ID
from keeper_support import ChildProcess, Expected, expected_after_steps, make_product, working_state

PACED_STEPS = 40
BURST_STEPS = 300
LINE_TIMEOUT_S = 30.0
# Kill within this many seconds after the chosen line, so some kills land mid-write.
MAX_KILL_DELAY_S = 0.004


def restored_as_expected(
    keeper: SessionKeeper,
) -> tuple[Expected, Gallery | None, QUndoStack | None]:
    restored = keeper.restore(CRASH_PRODUCT_ID)
    if restored is None:
        return Expected(None, None, None), None, None
    gallery, stack = restored
    return Expected(working_state(gallery), encode_history(stack), stack.index()), gallery, stack


def run_until_kill(child: ChildProcess, kill_after: int, rng: random.Random) -> list[str]:
    """SIGKILL the child after ``kill_after`` lines and return every line it printed before dying.

    The child does not wait for this test, so it may print more lines before the kill
    lands. Those count as acknowledged too.
    """
    lines: list[str] = []
    while len(lines) < kill_after:
        line = child.next_line(LINE_TIMEOUT_S)
        if line is None:
            raise AssertionError(f"the child ended early:\n{child.stderr()}")
        lines.append(line)
        if line == "done":
            break
    time.sleep(rng.uniform(0, MAX_KILL_DELAY_S))  # a random kill point, not a wait for a result
    child.kill()
    while (line := child.next_line(LINE_TIMEOUT_S)) is not None:
        lines.append(line)
    return [line for line in lines if line.startswith("persisted ")]


def check_undo_redo(gallery: Gallery, stack: QUndoStack, product_state: dict[str, object]) -> None:
    top = stack.count()
    stack.setIndex(0)
    assert working_state(gallery) == product_state
    stack.setIndex(top)
    stack.clear()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_paced_steps_survive_kill(
    qtbot: object, make_keeper: Callable[..., SessionKeeper], data_dir: Path, seed: int
) -> None:
    rng = random.Random(seed * 7919)
    product = make_product(CRASH_PRODUCT_ID, CRASH_IMAGE_COUNT)
    expected = expected_after_steps(product, seed, PACED_STEPS, pushes_only=False)
    child = ChildProcess(str(data_dir), str(seed), str(PACED_STEPS), "paced")
    try:
        lines = run_until_kill(child, rng.randint(1, PACED_STEPS - 1), rng)
    finally:
        child.close()
    assert lines, "the child acknowledged nothing before the kill"
    acknowledged = int(lines[-1].split()[1])

    found, gallery, stack = restored_as_expected(make_keeper())
    # The step after the last acknowledged one may have been committed just before the kill.
    allowed = expected[acknowledged : acknowledged + 2]
    assert found in allowed, f"seed {seed}: restored {found} after step {acknowledged}"
    if gallery is not None and stack is not None:
        check_undo_redo(gallery, stack, working_state(Gallery(product)))


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_burst_pushes_survive_kill(
    qtbot: object, make_keeper: Callable[..., SessionKeeper], data_dir: Path, seed: int
) -> None:
    rng = random.Random(seed * 104729)
    product = make_product(CRASH_PRODUCT_ID, CRASH_IMAGE_COUNT)
    expected = expected_after_steps(product, seed, BURST_STEPS, pushes_only=True)
    child = ChildProcess(str(data_dir), str(seed), str(BURST_STEPS), "burst")
    try:
        lines = run_until_kill(child, rng.randint(1, 40), rng)
    finally:
        child.close()
    assert lines, "the child acknowledged nothing before the kill"
    acknowledged = max(int(line.split()[1]) for line in lines)

    found, gallery, stack = restored_as_expected(make_keeper())
    assert found.index is not None, f"seed {seed}: the session is gone"
    assert found.index >= acknowledged, f"seed {seed}: index {found.index} < {acknowledged}"
    assert found == expected[found.index], f"seed {seed}: restored state differs at {found.index}"
    assert gallery is not None and stack is not None
    check_undo_redo(gallery, stack, working_state(Gallery(product)))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 140))
def test_many_seeds_survive_kill(
    qtbot: object, make_keeper: Callable[..., SessionKeeper], data_dir: Path, seed: int
) -> None:
    test_paced_steps_survive_kill(qtbot, make_keeper, data_dir, seed)
