"""The test control channel's commands, run in-process through `TestControl.execute`."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from gallery_editor.sandbox import SandboxServer
from gallery_editor.ui.main_window import MainWindow
from gallery_editor.ui.test_control import TestControl

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def control(open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> Iterator[TestControl]:
    window = open_product(sandbox.catalog.well_known["ten"])
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    channel = TestControl(window, fd=read_fd, output=io.StringIO())
    yield channel
    channel.close()
    os.close(read_fd)


def run(control: TestControl, **command: object) -> dict[str, object]:
    return control.execute(json.dumps(command).encode())


def test_edits_go_through_undo_stack(control: TestControl) -> None:
    state = run(control, op="state")
    order = state["order"]
    assert state["ok"] is True
    assert state["thumbnails"] == {"loaded": 10, "broken": 0, "pending": 0}
    assert run(control, op="move", ids=[order[1], order[3]], row=10)["ok"]
    assert run(control, op="rename", id=order[0], name="Front view")["ok"]
    assert run(control, op="star", id=order[5])["ok"]
    assert run(control, op="enable", ids=[order[6]], enabled=False)["ok"]
    state = run(control, op="state")
    assert state["order"] == [order[0], order[2]] + order[4:] + [order[1], order[3]]
    assert state["fields"][order[0]]["name"] == "Front view"
    assert state["fields"][order[5]]["thumbnail"] is True
    assert state["fields"][order[6]]["enabled"] is False
    assert state["modified"] is True
    for _ in range(4):
        assert run(control, op="undo")["ok"]
    state = run(control, op="state")
    assert state["order"] == order
    assert state["modified"] is False
    assert state["changed_count"] == 0
    assert run(control, op="redo")["ok"]
    assert run(control, op="state")["order"] != order


def test_item_rect_is_global(control: TestControl) -> None:
    reply = run(control, op="item_rect", row=0)
    assert reply["ok"] is True
    assert reply["width"] > 0
    assert reply["height"] > 0
    assert run(control, op="item_rect", row=99)["ok"] is False


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"op": "fly"}', "unknown op"),
        (b'{"op": "move", "ids": "x", "row": 1}', "'ids' must be a list"),
        (b'{"op": "rename", "id": "nope", "name": "   "}', "cannot be empty"),
    ],
    ids=["not json", "not an object", "unknown op", "bad ids", "invalid name"],
)
def test_bad_commands_get_error_replies(control: TestControl, line: bytes, fragment: str) -> None:
    reply = control.execute(line)
    assert reply["ok"] is False
    assert fragment in str(reply["error"])


def test_replies_written_one_per_line(qtbot: QtBot, open_product: Callable[[str], MainWindow], sandbox: SandboxServer) -> None:
    window = open_product(sandbox.catalog.well_known["ten"])
    read_fd, write_fd = os.pipe()
    output = io.StringIO()
    channel = TestControl(window, fd=read_fd, output=output)
    os.write(write_fd, b'{"op": "state"}\n{"op": "undo"}\n')
    qtbot.waitUntil(lambda: output.getvalue().count("\n") == 2, timeout=5000)
    replies = [json.loads(line) for line in output.getvalue().splitlines()]
    assert [reply["op"] for reply in replies] == ["state", "undo"]
    os.close(write_fd)
    channel.close()
    os.close(read_fd)
