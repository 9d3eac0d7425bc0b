"""Round trips of every Journal method on a real SQLite file."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gallery_editor.domain.models import Product
from gallery_editor.journal import Journal, SentPatchNotFoundError
from journal_helpers import API_URL, OTHER_API_URL, make_product


def sample_state(product: Product) -> dict[str, Any]:
    return {
        "order": [image.id for image in reversed(product.images)],
        "fields": {product.images[0].id: {"name": "Neu – ✓", "enabled": False}},
        "nested": {"empty": {}, "list": [], "null": None, "float": 0.1, "big": 2**60},
    }


def sample_history() -> list[dict[str, Any]]:
    return [
        {"kind": "move", "ids": ["a", "b"], "row": 3},
        {"kind": "rename", "id": "a", "old": None, "new": "Front"},
        {"kind": "enable", "ids": ["c"], "value": True},
    ]


def save_sample(journal: Journal, product: Product, base_url: str = API_URL) -> None:
    journal.save_session(
        base_url, product.id, product, sample_state(product), sample_history(), 2, product.name
    )


# Sessions


def test_session_round_trip(journal: Journal) -> None:
    product = make_product("p1", image_count=4)
    before = datetime.now(UTC)
    journal.save_session(
        API_URL, "p1", product, sample_state(product), sample_history(), 2, "Shown name",
        change_count=5,
    )
    after = datetime.now(UTC)

    session = journal.load_session(API_URL, "p1")

    assert session is not None
    assert session.base_url == API_URL
    assert session.product_id == "p1"
    assert session.product_name == "Shown name"
    assert session.snapshot == product
    assert session.state == sample_state(product)
    assert session.history == sample_history()
    assert session.history_index == 2
    assert session.change_count == 5
    assert before <= session.updated_at <= after
    assert session.created_at == session.updated_at
    assert session.updated_at.utcoffset() == UTC.utcoffset(None)


def test_session_missing_returns_none(journal: Journal) -> None:
    save_sample(journal, make_product("p1"))

    assert journal.load_session(API_URL, "other") is None
    assert journal.load_session(OTHER_API_URL, "p1") is None


def test_session_save_replaces(journal: Journal) -> None:
    first = make_product("p1", image_count=2)
    save_sample(journal, first)
    created = journal.load_session(API_URL, "p1")
    assert created is not None

    second = make_product("p1", image_count=5, name="Renamed")
    journal.save_session(API_URL, "p1", second, {"order": []}, [{"kind": "x"}], 0, "Renamed")
    replaced = journal.load_session(API_URL, "p1")

    assert replaced is not None
    assert replaced.snapshot == second
    assert replaced.state == {"order": []}
    assert replaced.history == [{"kind": "x"}]
    assert replaced.history_index == 0
    assert replaced.product_name == "Renamed"
    assert replaced.created_at == created.created_at
    assert replaced.updated_at >= created.updated_at
    assert len(journal.pending_sessions()) == 1


def test_session_change_count_defaults_to_index(journal: Journal) -> None:
    product = make_product("p1")
    journal.save_session(API_URL, "p1", product, {}, sample_history(), 3, product.name)

    session = journal.load_session(API_URL, "p1")

    assert session is not None
    assert session.change_count == 3


def test_session_survives_reopening(journal_folder: Path) -> None:
    product = make_product("p1")
    with Journal(journal_folder) as first:
        save_sample(first, product)

    with Journal(journal_folder) as second:
        session = second.load_session(API_URL, "p1")

    assert session is not None
    assert session.snapshot == product
    assert session.history == sample_history()


def test_pending_sessions_newest_first(journal: Journal) -> None:
    for product_id in ("a", "b", "c"):
        save_sample(journal, make_product(product_id))
    save_sample(journal, make_product("x"), base_url=OTHER_API_URL)
    save_sample(journal, make_product("a"))  # edited again, so newest

    all_sessions = journal.pending_sessions()
    one_url = journal.pending_sessions(API_URL)

    assert [(s.base_url, s.product_id) for s in all_sessions] == [
        (API_URL, "a"),
        (OTHER_API_URL, "x"),
        (API_URL, "c"),
        (API_URL, "b"),
    ]
    assert [s.product_id for s in one_url] == ["a", "c", "b"]
    assert one_url[0].product_name == "Product a"
    assert one_url[0].change_count == 2
    assert one_url[0].updated_at >= one_url[1].updated_at


def test_pending_sessions_empty(journal: Journal) -> None:
    assert journal.pending_sessions() == []
    assert journal.pending_sessions(API_URL) == []


def test_discard_session_removes_only_one(journal: Journal) -> None:
    save_sample(journal, make_product("p1"))
    save_sample(journal, make_product("p2"))
    save_sample(journal, make_product("p1"), base_url=OTHER_API_URL)
    journal.record_sent(API_URL, "p1", "p1-img-0", {"name": "kept"})

    journal.discard_session(API_URL, "p1")

    assert journal.load_session(API_URL, "p1") is None
    assert journal.load_session(API_URL, "p2") is not None
    assert journal.load_session(OTHER_API_URL, "p1") is not None
    assert journal.sent_values(API_URL, "p1") == {"p1-img-0": {"name": "kept"}}


def test_discard_missing_session_is_harmless(journal: Journal) -> None:
    journal.discard_session(API_URL, "never-saved")

    assert journal.pending_sessions() == []


@pytest.mark.parametrize(
    ("state", "history", "history_index", "error"),
    [
        ({"t": (1, 2)}, [], 0, ValueError),
        ({1: "int key"}, [], 0, ValueError),
        ({"nan": math.nan}, [], 0, ValueError),
        ({"object": object()}, [], 0, ValueError),
        ({}, [{"ok": 1}], 2, ValueError),
        ({}, [], -1, ValueError),
        ({}, ["not a dict"], 0, TypeError),
        (["not a dict"], [], 0, TypeError),
    ],
)
def test_save_session_rejects_bad_data(
    journal: Journal, state: Any, history: Any, history_index: int, error: type[Exception]
) -> None:
    product = make_product("p1")

    with pytest.raises(error):
        journal.save_session(API_URL, "p1", product, state, history, history_index, "n")

    assert journal.load_session(API_URL, "p1") is None


def test_save_session_rejects_other_product(journal: Journal) -> None:
    with pytest.raises(ValueError, match="'p2'"):
        journal.save_session(API_URL, "p1", make_product("p2"), {}, [], 0, "n")

    assert journal.pending_sessions() == []


def test_closed_journal_raises(journal_folder: Path) -> None:
    opened = Journal(journal_folder)
    opened.close()
    opened.close()

    assert opened.closed
    with pytest.raises(RuntimeError, match="closed"):
        opened.pending_sessions()


# Offline product cache


def test_cached_product_round_trip(journal: Journal) -> None:
    product = make_product("p1", image_count=6)
    before = datetime.now(UTC)
    journal.cache_product(API_URL, product)
    after = datetime.now(UTC)

    cached = journal.cached_product(API_URL, "p1")

    assert cached is not None
    assert cached[0] == product
    assert before <= cached[1] <= after


def test_cached_product_missing_returns_none(journal: Journal) -> None:
    journal.cache_product(API_URL, make_product("p1"))

    assert journal.cached_product(API_URL, "p2") is None
    assert journal.cached_product(OTHER_API_URL, "p1") is None


def test_cache_product_replaces(journal: Journal) -> None:
    journal.cache_product(API_URL, make_product("p1", image_count=1))
    first = journal.cached_product(API_URL, "p1")
    newer = make_product("p1", image_count=3, name="New name")
    journal.cache_product(API_URL, newer)

    cached = journal.cached_product(API_URL, "p1")

    assert first is not None
    assert cached is not None
    assert cached[0] == newer
    assert cached[1] >= first[1]
    assert len(journal.cached_products(API_URL)) == 1


def test_cached_products_sorted_by_name(journal: Journal) -> None:
    journal.cache_product(API_URL, make_product("3", name="beta"))
    journal.cache_product(API_URL, make_product("1", name="Gamma"))
    journal.cache_product(API_URL, make_product("2", name="alpha"))
    journal.cache_product(OTHER_API_URL, make_product("9", name="aardvark"))

    cached = journal.cached_products(API_URL)

    assert [product.name for product, _ in cached] == ["alpha", "beta", "Gamma"]
    assert cached[0][0] == make_product("2", name="alpha")
    assert journal.cached_products("http://127.0.0.1:1/none") == []


# Sent and acknowledged PATCH requests


def test_record_sent_lists_unacknowledged(journal: Journal) -> None:
    first = journal.record_sent(API_URL, "p1", "img-a", {"ordering": 5})
    second = journal.record_sent(API_URL, "p1", "img-b", {"name": None, "enabled": False})
    journal.record_sent(API_URL, "p2", "img-c", {"thumbnail": True})

    pending = journal.unacknowledged(API_URL, "p1")

    assert second > first
    assert [patch.id for patch in pending] == [first, second]
    assert pending[0].image_id == "img-a"
    assert pending[0].body == {"ordering": 5}
    assert pending[1].body == {"name": None, "enabled": False}
    assert pending[1].base_url == API_URL
    assert pending[1].product_id == "p1"
    assert pending[1].acknowledged_at is None
    assert pending[0].sent_at <= pending[1].sent_at


def test_record_acknowledged_updates_session(journal: Journal) -> None:
    snapshot = make_product("p1")
    save_sample(journal, snapshot)
    first = journal.record_sent(API_URL, "p1", "p1-img-0", {"name": "Front"})
    second = journal.record_sent(API_URL, "p1", "p1-img-1", {"ordering": 1})
    updated = snapshot.with_images(
        (snapshot.images[0].with_changes(name="Front"), *snapshot.images[1:])
    )

    journal.record_acknowledged(first, updated)

    session = journal.load_session(API_URL, "p1")
    assert session is not None
    assert session.snapshot == updated
    assert session.state == sample_state(snapshot)
    assert session.history == sample_history()
    assert [patch.id for patch in journal.unacknowledged(API_URL, "p1")] == [second]


def test_record_acknowledged_without_session(journal: Journal) -> None:
    sent_id = journal.record_sent(API_URL, "p1", "p1-img-0", {"enabled": True})

    journal.record_acknowledged(sent_id, make_product("p1"))

    assert journal.unacknowledged(API_URL, "p1") == []
    assert journal.load_session(API_URL, "p1") is None
    assert journal.sent_values(API_URL, "p1") == {"p1-img-0": {"enabled": True}}


def test_record_acknowledged_twice_keeps_first_time(journal_folder: Path) -> None:
    with Journal(journal_folder) as journal:
        sent_id = journal.record_sent(API_URL, "p1", "p1-img-0", {"enabled": True})
        journal.record_acknowledged(sent_id, make_product("p1"))
        first_time = read_acknowledged_at(journal_folder, sent_id)
        journal.record_acknowledged(sent_id, make_product("p1"))

    assert first_time is not None
    assert read_acknowledged_at(journal_folder, sent_id) == first_time


def read_acknowledged_at(folder: Path, sent_id: int) -> str | None:
    connection = sqlite3.connect(folder / "journal.sqlite3")
    try:
        row = connection.execute(
            "SELECT acknowledged_at FROM sent_patches WHERE id = ?", (sent_id,)
        ).fetchone()
    finally:
        connection.close()
    return None if row is None else row[0]


def test_record_acknowledged_unknown_id(journal: Journal) -> None:
    sent_id = journal.record_sent(API_URL, "p1", "p1-img-0", {"enabled": True})
    journal.clear_sent(API_URL, "p1")

    with pytest.raises(SentPatchNotFoundError) as raised:
        journal.record_acknowledged(sent_id, make_product("p1"))

    assert raised.value.sent_id == sent_id
    assert isinstance(raised.value, LookupError)


def test_record_acknowledged_rejects_other_product(journal: Journal) -> None:
    save_sample(journal, make_product("p1"))
    sent_id = journal.record_sent(API_URL, "p1", "p1-img-0", {"enabled": True})

    with pytest.raises(ValueError, match="'p2'"):
        journal.record_acknowledged(sent_id, make_product("p2"))

    session = journal.load_session(API_URL, "p1")
    assert session is not None
    assert session.snapshot == make_product("p1")
    assert [patch.id for patch in journal.unacknowledged(API_URL, "p1")] == [sent_id]


def test_record_acknowledged_is_one_transaction(
    journal: Journal, journal_folder: Path
) -> None:
    original = make_product("p1")
    save_sample(journal, original)
    sent_id = journal.record_sent(API_URL, "p1", "p1-img-0", {"name": "Front"})
    # A trigger makes the snapshot update fail after the acknowledgement was written.
    # If the two were separate transactions, the acknowledgement would remain.
    add_trigger(
        journal_folder,
        "CREATE TRIGGER reject_snapshot BEFORE UPDATE OF snapshot_json ON sessions "
        "BEGIN SELECT RAISE(ABORT, 'snapshot update rejected by test'); END",
    )

    with pytest.raises(sqlite3.IntegrityError, match="rejected by test"):
        journal.record_acknowledged(sent_id, make_product("p1", image_count=7))

    assert [patch.id for patch in journal.unacknowledged(API_URL, "p1")] == [sent_id]
    session = journal.load_session(API_URL, "p1")
    assert session is not None
    assert session.snapshot == original


def add_trigger(folder: Path, statement: str) -> None:
    connection = sqlite3.connect(folder / "journal.sqlite3", isolation_level=None)
    try:
        connection.execute(statement)
    finally:
        connection.close()


def test_sent_values_merge_in_order(journal: Journal) -> None:
    journal.record_sent(API_URL, "p1", "a", {"ordering": 1, "name": "first"})
    acknowledged = journal.record_sent(API_URL, "p1", "b", {"enabled": False})
    journal.record_sent(API_URL, "p1", "a", {"ordering": 4})
    journal.record_sent(API_URL, "p2", "a", {"ordering": 99})
    journal.record_acknowledged(acknowledged, make_product("p1"))

    values = journal.sent_values(API_URL, "p1")

    assert values == {"a": {"ordering": 4, "name": "first"}, "b": {"enabled": False}}
    assert journal.sent_values(OTHER_API_URL, "p1") == {}


def test_clear_sent_scoped_to_product(journal: Journal) -> None:
    journal.record_sent(API_URL, "p1", "a", {"ordering": 1})
    journal.record_sent(API_URL, "p2", "b", {"ordering": 2})
    journal.record_sent(OTHER_API_URL, "p1", "c", {"ordering": 3})

    journal.clear_sent(API_URL, "p1")

    assert journal.unacknowledged(API_URL, "p1") == []
    assert journal.sent_values(API_URL, "p1") == {}
    assert journal.sent_values(API_URL, "p2") == {"b": {"ordering": 2}}
    assert journal.sent_values(OTHER_API_URL, "p1") == {"c": {"ordering": 3}}


def test_record_sent_rejects_bad_body(journal: Journal) -> None:
    with pytest.raises(ValueError, match="PATCH body"):
        journal.record_sent(API_URL, "p1", "a", {"ordering": (1,)})
    with pytest.raises(ValueError, match="image_id"):
        journal.record_sent(API_URL, "p1", "", {"ordering": 1})

    assert journal.sent_values(API_URL, "p1") == {}
