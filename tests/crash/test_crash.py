"""SIGKILL the app while editing and while saving: every persisted edit survives and saves."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from crash_support import AppProcess, SandboxProcess, server_state, working_state

FAST_SEEDS = range(10)
SLOW_SEEDS = range(10, 60)
# Kill within this many seconds after the last reply, so some kills land mid-write.
MAX_KILL_DELAY_S = 0.03
# Kill within this many seconds after a save started (a save of ten images takes about 0.3 s).
MAX_SAVE_KILL_DELAY_S = 0.4

State = tuple[tuple[str, ...], dict[str, Any]]


def random_edit(app: AppProcess, rng: random.Random, order: list[str], number: int) -> None:
    """Send one random edit (move, rename, star or show/hide) and check that it was accepted."""
    kind = rng.choice(["move", "rename", "star", "enable"])
    image_id = rng.choice(order)
    if kind == "move":
        app.send("move", ids=[image_id], row=rng.randint(0, len(order)))
    elif kind == "rename":
        app.send("rename", id=image_id, name=f"Edit {number}")
    elif kind == "star":
        app.send("star", id=image_id)
    else:
        app.send("enable", ids=[image_id], enabled=rng.random() < 0.5)


def edit_randomly(app: AppProcess, rng: random.Random, count: int) -> tuple[dict[int, State], int]:
    """Make `count` edits; return the state after each undo-stack index and the highest persisted index."""
    state = app.send("state")
    states: dict[int, State] = {app.send("save_state")["stack_index"]: working_state(state)}
    persisted = 0
    for number in range(count):
        random_edit(app, rng, list(state["order"]), number)
        if rng.random() < 0.3:
            app.send("wait_idle")
        state = app.send("state")
        progress = app.send("save_state")
        states[progress["stack_index"]] = working_state(state)
        persisted = max(persisted, progress["persisted_index"] or 0)
    return states, persisted


def open_app(sandbox: SandboxProcess, app_dir: Path, product_id: str) -> AppProcess:
    app = AppProcess(sandbox.address, app_dir, product_id)
    reply = app.send("open", id=product_id)
    assert reply["product_id"] == product_id
    return app


def save_and_check(app: AppProcess, sandbox: SandboxProcess, product_id: str) -> None:
    """Save, wait for the result and compare the server with the app's working state."""
    expected = working_state(app.send("state"))
    app.send("save")
    result = app.send("wait_idle")
    assert result["status"] == "saved", result
    assert server_state(sandbox.product(product_id)) == expected
    assert app.send("state")["modified"] is False


def run_edit_crash(sandbox: SandboxProcess, app_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    product_id = sandbox.well_known("ten")
    app = open_app(sandbox, app_dir, product_id)
    try:
        states, persisted = edit_randomly(app, rng, rng.randint(1, 20))
        time.sleep(rng.uniform(0, MAX_KILL_DELAY_S))  # a random kill point, not a wait for a result
    finally:
        app.kill()

    app = open_app(sandbox, app_dir, product_id)
    try:
        restored = working_state(app.send("state"))
        allowed = [index for index, state in states.items() if index >= persisted and state == restored]
        assert allowed, (
            f"seed {seed}: the restored state is none of the states at or after the persisted "
            f"index {persisted}"
        )
        save_and_check(app, sandbox, product_id)
    finally:
        app.quit()


def run_save_crash(sandbox: SandboxProcess, app_dir: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    product_id = sandbox.well_known("ten")
    app = open_app(sandbox, app_dir, product_id)
    try:
        order = list(app.send("state")["order"])
        for number, image_id in enumerate(rng.sample(order, rng.randint(2, len(order)))):
            app.send("rename", id=image_id, name=f"Saved {seed}-{number}")
        app.send("move", ids=[order[0]], row=len(order))
        app.send("wait_idle")
        intended = working_state(app.send("state"))
        assert app.send("save")["started"] is True
        time.sleep(rng.uniform(0, MAX_SAVE_KILL_DELAY_S))  # a random kill point during the save
    finally:
        app.kill()

    app = open_app(sandbox, app_dir, product_id)
    try:
        restored = working_state(app.send("state"))
        assert restored == intended, f"seed {seed}: the restart lost edits persisted before saving"
        app.send("save")
        result = app.send("wait_idle")
        assert result["status"] == "saved", result
        assert server_state(sandbox.product(product_id)) == intended
    finally:
        app.quit()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_kill_while_editing(sandbox_process: SandboxProcess, app_dir: Path, seed: int) -> None:
    run_edit_crash(sandbox_process, app_dir, seed)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_kill_while_editing_many_seeds(sandbox_process: SandboxProcess, app_dir: Path, seed: int) -> None:
    run_edit_crash(sandbox_process, app_dir, seed)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_kill_while_saving(sandbox_process: SandboxProcess, app_dir: Path, seed: int) -> None:
    run_save_crash(sandbox_process, app_dir, seed)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_kill_while_saving_many_seeds(sandbox_process: SandboxProcess, app_dir: Path, seed: int) -> None:
    run_save_crash(sandbox_process, app_dir, seed)
