"""SessionKeeper against a real SQLite journal: persisting, restoring, fallbacks and failures."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QUndoCommand, QUndoStack
from pytestqt.qtbot import QtBot

from gallery_editor.domain.gallery import Gallery, edit_to_json
from gallery_editor.domain.models import Product
from gallery_editor.journal import Journal, Session
from gallery_editor.ui.commands import EditCommand
from gallery_editor.ui.session_keeper import (
    SessionKeeper,
    encode_history,
    push_history_entry,
)

from keeper_support import (
    API_URL,
    PERSIST_TIMEOUT_MS,
    make_product,
    product_as_saved,
    push_edit,
    working_state,
)


def push_and_wait(
    qtbot: QtBot, keeper: SessionKeeper, stack: QUndoStack, command: QUndoCommand
) -> None:
    """Push a command and wait until the keeper reports the new index committed."""
    with qtbot.waitSignal(
        keeper.edit_persisted,
        timeout=PERSIST_TIMEOUT_MS,
        check_params_cb=lambda _product_id, index: index == stack.index(),
    ):
        stack.push(command)


def wait_persisted(qtbot: QtBot, keeper: SessionKeeper, product_id: str) -> None:
    qtbot.waitUntil(lambda: keeper.is_persisted(product_id), timeout=PERSIST_TIMEOUT_MS)


def stored_session(data_dir: Path, product_id: str = "p1") -> Session | None:
    with Journal(data_dir) as journal:
        return journal.load_session(API_URL, product_id)


def server_state(product: Product) -> dict[str, object]:
    return working_state(Gallery(product))


def move_first_to_end(gallery: Gallery) -> EditCommand:
    edit = gallery.make_move([gallery.id_at(0)], len(gallery))
    assert edit is not None
    return EditCommand(gallery, edit)


def test_every_push_reaches_journal(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    rng = random.Random(7)
    for _ in range(8):
        with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
            push_edit(gallery, stack, rng)
        assert persisted.args == ["p1", stack.index()]
        session = stored_session(data_dir)
        assert session is not None
        assert session.history_index == stack.index()
        assert session.history == encode_history(stack)
        assert session.state == gallery.state_to_json()
        assert session.change_count == len(gallery.changed_image_ids())
        assert session.product_name == "Product p1"


def test_undo_and_redo_reach_journal(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    rng = random.Random(3)
    for _ in range(3):
        with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS):
            push_edit(gallery, stack, rng)
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
        stack.undo()
    assert persisted.args == ["p1", 2]
    session = stored_session(data_dir)
    assert session is not None
    assert len(session.history) == 3
    assert session.history_index == 2
    assert session.state == gallery.state_to_json()


def test_macro_stored_as_children(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
        stack.beginMacro("Star and hide")
        star = gallery.make_toggle_thumbnail(gallery.id_at(3))
        stack.push(EditCommand(gallery, star))
        hide = gallery.make_set_enabled([gallery.id_at(4)], False)
        assert hide is not None
        stack.push(EditCommand(gallery, hide))
        stack.endMacro()
    assert persisted.args == ["p1", 1]
    session = stored_session(data_dir)
    assert session is not None
    assert session.history == [
        {
            "type": "macro",
            "text": "Star and hide",
            "children": [edit_to_json(star), edit_to_json(hide)],
        }
    ]
    assert session.state == gallery.state_to_json()


def test_is_persisted_false_until_committed(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack
) -> None:
    keeper.track(gallery, stack, "Product p1")
    assert keeper.is_persisted("p1")
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS):
        stack.push(move_first_to_end(gallery))
        assert not keeper.is_persisted("p1")
    assert keeper.is_persisted("p1")


def test_back_at_zero_discards_session(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    assert stored_session(data_dir) is not None
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
        stack.undo()
    assert persisted.args == ["p1", 0]
    assert stored_session(data_dir) is None
    assert keeper.pending() == []


def test_track_fresh_gallery_keeps_session(
    qtbot: QtBot, make_keeper: Callable[..., SessionKeeper], data_dir: Path
) -> None:
    first = make_keeper()
    gallery = Gallery(make_product("p1"))
    stack = QUndoStack()
    first.track(gallery, stack, "Product p1")
    push_and_wait(qtbot, first, stack, move_first_to_end(gallery))
    first.close()

    second = make_keeper()
    second.track(Gallery(make_product("p1")), QUndoStack(), "Product p1")
    second.flush()
    session = stored_session(data_dir)
    assert session is not None
    assert session.history_index == 1


def test_restore_rebuilds_gallery_and_stack(
    qtbot: QtBot, make_keeper: Callable[..., SessionKeeper], data_dir: Path
) -> None:
    product = make_product("p1", 7)
    gallery = Gallery(product)
    stack = QUndoStack()
    first = make_keeper()
    first.track(gallery, stack, "Product p1")
    rng = random.Random(11)
    for _ in range(5):
        push_edit(gallery, stack, rng)
    stack.beginMacro("Two at once")
    push_edit(gallery, stack, rng)
    push_edit(gallery, stack, rng)
    stack.endMacro()
    push_edit(gallery, stack, rng)
    stack.undo()
    stack.undo()
    first.close()
    saved_state = gallery.state_to_json()
    saved_history = encode_history(stack)
    stack.redo()
    stack.redo()
    edited_state = working_state(gallery)

    restored = make_keeper().restore("p1")
    assert restored is not None
    restored_gallery, restored_stack = restored
    assert restored_gallery.snapshot == product
    assert restored_gallery.state_to_json() == saved_state
    assert restored_stack.count() == 7
    assert restored_stack.index() == 5
    assert encode_history(restored_stack) == saved_history
    assert restored_stack.command(5).text() == "Two at once"
    assert restored_stack.command(5).childCount() == 2

    restored_stack.setIndex(0)
    assert working_state(restored_gallery) == server_state(product)
    assert not restored_gallery.is_modified()
    restored_stack.setIndex(restored_stack.count())
    assert working_state(restored_gallery) == edited_state
    restored_stack.clear()


def test_restore_unknown_product_none(keeper: SessionKeeper) -> None:
    assert keeper.restore("never-edited") is None


def write_session(
    data_dir: Path,
    snapshot: Product,
    state: dict[str, object],
    history: list[dict[str, object]],
    index: int,
) -> None:
    with Journal(data_dir) as journal:
        journal.save_session(API_URL, snapshot.id, snapshot, state, history, index, snapshot.name)


def damage_history(data_dir: Path, product_id: str, history: object) -> None:
    """Overwrite a stored history with JSON the journal itself would refuse to write."""
    connection = sqlite3.connect(data_dir / "journal.sqlite3", isolation_level=None)
    try:
        connection.execute(
            "UPDATE sessions SET history_json = ? WHERE base_url = ? AND product_id = ?",
            (json.dumps(history), API_URL, product_id),
        )
    finally:
        connection.close()


def edited_gallery(product: Product, seed: int, edits: int) -> tuple[Gallery, QUndoStack]:
    gallery = Gallery(product)
    stack = QUndoStack()
    rng = random.Random(seed)
    for _ in range(edits):
        push_edit(gallery, stack, rng)
    return gallery, stack


@pytest.mark.parametrize(
    "damage",
    ["not an object", "unknown image", "missing key", "wrong old value", "empty macro"],
)
def test_corrupt_history_falls_back_to_state(
    keeper: SessionKeeper,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    product = make_product("p1")
    gallery, stack = edited_gallery(product, seed=5, edits=4)
    encode_history_copy = encode_history(stack)
    history: list[Any] = encode_history(stack)
    stack.clear()
    if damage == "not an object":
        history[1] = "garbage"
    elif damage == "unknown image":
        history.append({"type": "fields", "kind": "rename", "text": "x",
                        "changes": [{"image_id": "nope", "field": "name", "old": "a", "new": "b"}]})
    elif damage == "missing key":
        del history[0]["type"]
        history[0].pop("new_order", None)
        history[0].pop("changes", None)
    elif damage == "wrong old value":
        history.insert(0, {"type": "fields", "kind": "enabled", "text": "x",
                           "changes": [{"image_id": "p1-img-0", "field": "enabled",
                                        "old": False, "new": True}]})
    else:
        history.append({"type": "macro", "text": "nothing", "children": []})
    write_session(data_dir, product, gallery.state_to_json(), encode_history_copy, 4)
    damage_history(data_dir, "p1", history)

    with caplog.at_level(logging.WARNING, logger="gallery_editor.ui.session_keeper"):
        restored = keeper.restore("p1")
    assert restored is not None
    restored_gallery, restored_stack = restored
    assert restored_gallery.state_to_json() == gallery.state_to_json()
    assert restored_stack.count() == 0
    assert any("without undo history" in record.getMessage() for record in caplog.records)


def test_history_not_matching_state_falls_back(
    keeper: SessionKeeper, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    product = make_product("p1")
    gallery, stack = edited_gallery(product, seed=8, edits=3)
    history = encode_history(stack)
    stack.undo()  # the state no longer matches index 3
    state = gallery.state_to_json()
    stack.clear()
    write_session(data_dir, product, state, history, 3)

    with caplog.at_level(logging.WARNING, logger="gallery_editor.ui.session_keeper"):
        restored = keeper.restore("p1")
    assert restored is not None
    assert restored[0].state_to_json() == state
    assert restored[1].count() == 0
    assert any("does not reproduce" in record.getMessage() for record in caplog.records)


def test_state_not_fitting_snapshot_uses_fallback(keeper: SessionKeeper, data_dir: Path) -> None:
    stored_snapshot = make_product("p1", 4)
    fresh_copy = make_product("p1", 6)
    gallery, stack = edited_gallery(fresh_copy, seed=2, edits=3)
    state = gallery.state_to_json()
    stack.clear()
    write_session(data_dir, stored_snapshot, state, [], 0)

    assert keeper.restore("p1") is None
    restored = keeper.restore("p1", fresh_copy)
    assert restored is not None
    assert restored[0].snapshot == fresh_copy
    assert restored[0].state_to_json() == state


def test_journal_error_becomes_persist_failed(
    qtbot: QtBot,
    make_keeper: Callable[..., SessionKeeper],
    gallery: Gallery,
    stack: QUndoStack,
    data_dir: Path,
) -> None:
    keeper = make_keeper(busy_timeout=0.2)
    keeper.track(gallery, stack, "Product p1")
    # Another connection holds the write lock, as another process writing would.
    blocker = sqlite3.connect(keeper.journal_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with qtbot.waitSignal(keeper.persist_failed, timeout=PERSIST_TIMEOUT_MS) as failed:
            stack.push(move_first_to_end(gallery))
        assert "locked" in failed.args[0]
        assert "Try again" in failed.args[0]
        assert not keeper.is_persisted("p1")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    assert keeper.is_persisted("p1")
    session = stored_session(data_dir)
    assert session is not None
    assert session.history_index == 2


def test_pending_lists_sessions(
    qtbot: QtBot, keeper: SessionKeeper, data_dir: Path
) -> None:
    first = Gallery(make_product("p1", name="Blue mug"))
    second = Gallery(make_product("p2", name="Red cup"))
    first_stack, second_stack = QUndoStack(), QUndoStack()
    keeper.track(first, first_stack, "Blue mug")
    keeper.track(second, second_stack, "Red cup")
    push_and_wait(qtbot, keeper, first_stack, move_first_to_end(first))
    star = second.make_toggle_thumbnail(second.id_at(2))
    push_and_wait(qtbot, keeper, second_stack, EditCommand(second, star))

    summaries = keeper.pending()
    assert [summary.product_id for summary in summaries] == ["p2", "p1"]
    assert [summary.product_name for summary in summaries] == ["Red cup", "Blue mug"]
    assert summaries[0].change_count == 2  # the old and the new thumbnail
    assert summaries[1].change_count == len(first.changed_image_ids())


def test_untrack_writes_pending_change(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    stack.push(move_first_to_end(gallery))
    keeper.untrack("p1")
    assert not keeper.is_tracked("p1")
    wait_persisted(qtbot, keeper, "p1")
    session = stored_session(data_dir)
    assert session is not None
    assert session.history_index == 1

    stack.push(move_first_to_end(gallery))
    keeper.flush()
    session = stored_session(data_dir)
    assert session is not None
    assert session.history_index == 1


def test_discard_deletes_session(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    keeper.untrack("p1")
    keeper.discard("p1").result(timeout=10)
    assert stored_session(data_dir) is None
    wait_persisted(qtbot, keeper, "p1")


def test_mark_saved_discards_when_nothing_remains(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    saved = product_as_saved(gallery)
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
        keeper.mark_saved("p1", saved)
    assert persisted.args == ["p1", 1]
    assert stored_session(data_dir) is None


def test_mark_saved_then_edits_restore(
    qtbot: QtBot, make_keeper: Callable[..., SessionKeeper], data_dir: Path
) -> None:
    keeper = make_keeper()
    gallery = Gallery(make_product("p1", 6))
    stack = QUndoStack()
    keeper.track(gallery, stack, "Product p1")
    rng = random.Random(21)
    for _ in range(3):
        push_edit(gallery, stack, rng)
    saved = product_as_saved(gallery)
    keeper.mark_saved("p1", saved)
    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    star = gallery.make_toggle_thumbnail(gallery.id_at(4))
    push_and_wait(qtbot, keeper, stack, EditCommand(gallery, star))
    keeper.close()

    session = stored_session(data_dir)
    assert session is not None
    assert session.snapshot == saved
    assert session.history_index == 2
    assert len(session.history) == 2

    restored = make_keeper().restore("p1")
    assert restored is not None
    restored_gallery, restored_stack = restored
    assert working_state(restored_gallery) == working_state(gallery)
    assert restored_stack.count() == 2
    restored_stack.setIndex(0)
    assert working_state(restored_gallery) == server_state(saved)
    restored_stack.clear()


def test_undo_past_save_keeps_state(
    qtbot: QtBot, make_keeper: Callable[..., SessionKeeper], data_dir: Path
) -> None:
    keeper = make_keeper()
    gallery = Gallery(make_product("p1", 6))
    stack = QUndoStack()
    keeper.track(gallery, stack, "Product p1")
    push_edit(gallery, stack, random.Random(4))
    push_edit(gallery, stack, random.Random(5))
    keeper.mark_saved("p1", product_as_saved(gallery))
    wait_persisted(qtbot, keeper, "p1")
    assert stored_session(data_dir) is None
    with qtbot.waitSignal(keeper.edit_persisted, timeout=PERSIST_TIMEOUT_MS) as persisted:
        stack.undo()
    assert persisted.args == ["p1", 1]
    session = stored_session(data_dir)
    assert session is not None
    assert session.history == []
    assert session.history_index == 0
    keeper.close()

    restored = make_keeper().restore("p1")
    assert restored is not None
    assert working_state(restored[0]) == working_state(gallery)
    assert restored[1].count() == 0


def test_mark_saved_untracked_moves_state(
    qtbot: QtBot, keeper: SessionKeeper, gallery: Gallery, stack: QUndoStack, data_dir: Path
) -> None:
    keeper.track(gallery, stack, "Product p1")
    push_and_wait(qtbot, keeper, stack, move_first_to_end(gallery))
    saved = product_as_saved(gallery)
    star = gallery.make_toggle_thumbnail(gallery.id_at(3))
    push_and_wait(qtbot, keeper, stack, EditCommand(gallery, star))
    keeper.untrack("p1")
    keeper.mark_saved("p1", saved)
    wait_persisted(qtbot, keeper, "p1")

    session = stored_session(data_dir)
    assert session is not None
    assert session.snapshot == saved
    assert session.history == []
    assert session.change_count == 2
    restored = keeper.restore("p1")
    assert restored is not None
    assert working_state(restored[0]) == working_state(gallery)


def test_cached_product_round_trip(qtbot: QtBot, keeper: SessionKeeper) -> None:
    product = make_product("p9", name="Green vase")
    keeper.cache_product(product)
    results: list[object] = []
    keeper.cached_product("p9", on_result=results.append)
    keeper.cached_product("missing", on_result=results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=PERSIST_TIMEOUT_MS)
    cached, fetched_at = results[0]  # type: ignore[misc]
    assert cached == product
    assert isinstance(fetched_at, datetime)
    assert fetched_at.tzinfo is not None
    assert results[1] is None

    listed: list[object] = []
    keeper.cached_products(on_result=listed.append)
    qtbot.waitUntil(lambda: bool(listed), timeout=PERSIST_TIMEOUT_MS)
    assert [entry[0] for entry in listed[0]] == [product]  # type: ignore[index]


def test_recovered_from_reports_moved_file(
    make_keeper: Callable[..., SessionKeeper], data_dir: Path
) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "journal.sqlite3").write_bytes(b"this is not a database" * 10)
    keeper = make_keeper()
    assert keeper.recovered_from is not None
    assert keeper.recovered_from.exists()
    assert keeper.recovered_from.name.startswith("journal.sqlite3.corrupt-")


def test_closed_keeper_rejects_track(keeper: SessionKeeper, gallery: Gallery) -> None:
    keeper.close()
    with pytest.raises(RuntimeError, match="closed"):
        keeper.track(gallery, QUndoStack(), "Product p1")


def test_history_entry_round_trip(gallery: Gallery, stack: QUndoStack) -> None:
    move = gallery.make_move([gallery.id_at(2)], 0)
    assert move is not None
    stack.push(EditCommand(gallery, move))
    stack.beginMacro("Outer")
    star = gallery.make_toggle_thumbnail(gallery.id_at(1))
    stack.push(EditCommand(gallery, star))
    stack.beginMacro("Inner")
    hide = gallery.make_set_enabled([gallery.id_at(3)], False)
    assert hide is not None
    stack.push(EditCommand(gallery, hide))
    stack.endMacro()
    stack.endMacro()
    encoded = encode_history(stack)
    assert encoded[1]["children"][1]["type"] == "macro"

    rebuilt_gallery = Gallery(gallery.snapshot)
    rebuilt_stack = QUndoStack()
    for entry in encoded:
        push_history_entry(rebuilt_stack, rebuilt_gallery, entry)
    assert encode_history(rebuilt_stack) == encoded
    assert rebuilt_stack.index() == 2
    assert rebuilt_gallery.state_to_json() == gallery.state_to_json()
    rebuilt_stack.undo()
    stack.undo()
    assert rebuilt_gallery.state_to_json() == gallery.state_to_json()
    rebuilt_stack.clear()
