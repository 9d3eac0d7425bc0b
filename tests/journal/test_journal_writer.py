"""JournalWriter: order of calls, results and errors through futures, flush and close."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from gallery_editor.journal import (
    DATABASE_NAME,
    Journal,
    JournalWriter,
    SentPatchNotFoundError,
)
from journal_helpers import API_URL, make_product


@pytest.fixture
def writer(journal_folder: Path) -> Iterator[JournalWriter]:
    opened = JournalWriter(journal_folder)
    yield opened
    opened.close(timeout=30)


def test_writer_runs_calls_in_order(writer: JournalWriter) -> None:
    seen: list[int] = []
    futures = [
        writer.submit(lambda journal, index=index: seen.append(index)) for index in range(200)
    ]
    sent = [
        writer.submit("record_sent", API_URL, "p1", f"img-{index}", {"ordering": index})
        for index in range(50)
    ]

    writer.flush(timeout=30)

    assert all(future.done() for future in futures)
    assert seen == list(range(200))
    sent_ids = [future.result() for future in sent]
    assert sent_ids == sorted(sent_ids)
    assert len(set(sent_ids)) == 50


def test_writer_uses_one_background_thread(writer: JournalWriter) -> None:
    futures = [writer.submit(lambda journal: threading.get_ident()) for _ in range(20)]

    idents = {future.result(timeout=30) for future in futures}

    assert len(idents) == 1
    assert threading.get_ident() not in idents


def test_writer_passes_its_journal(writer: JournalWriter, journal_folder: Path) -> None:
    future = writer.submit(lambda journal, suffix: (journal.path, suffix), "x")

    path, suffix = future.result(timeout=30)

    assert path == journal_folder / DATABASE_NAME
    assert suffix == "x"


def test_writer_method_names_and_keywords(writer: JournalWriter) -> None:
    product = make_product("p1")
    saved = writer.submit(
        "save_session", API_URL, "p1", product, {"a": 1}, [], 0, product.name, change_count=4
    )
    loaded = writer.submit("load_session", API_URL, "p1")

    assert saved.result(timeout=30) is None
    session = loaded.result(timeout=30)
    assert session is not None
    assert session.snapshot == product
    assert session.change_count == 4


@pytest.mark.parametrize("name", ["no_such_method", "_transaction", "path"])
def test_writer_rejects_unknown_names(writer: JournalWriter, name: str) -> None:
    with pytest.raises(AttributeError, match=name):
        writer.submit(name)


def test_writer_delivers_errors(writer: JournalWriter, caplog: pytest.LogCaptureFixture) -> None:
    def explode(journal: Journal) -> None:
        raise ValueError("exploded on purpose")

    with caplog.at_level(logging.ERROR, logger="gallery_editor.journal.writer"):
        failed = writer.submit(explode)
        missing = writer.submit("record_acknowledged", 12345, make_product("p1"))
        after = writer.submit("record_sent", API_URL, "p1", "img", {"ordering": 1})
        writer.flush(timeout=30)

    assert isinstance(failed.exception(), ValueError)
    assert "on purpose" in str(failed.exception())
    assert isinstance(missing.exception(), SentPatchNotFoundError)
    assert after.result() >= 1
    messages = [record.getMessage() for record in caplog.records]
    assert any("explode" in message and "on purpose" in message for message in messages)
    assert any("record_acknowledged" in message for message in messages)


def test_writer_flush_waits_and_times_out(writer: JournalWriter) -> None:
    release = threading.Event()
    blocked = writer.submit(lambda journal: release.wait(30))
    queued = writer.submit(lambda journal: "after")

    with pytest.raises(TimeoutError):
        writer.flush(timeout=0.05)
    assert not queued.done()

    release.set()
    writer.flush(timeout=30)
    assert blocked.result() is True
    assert queued.result() == "after"


def test_writer_skips_cancelled_calls(writer: JournalWriter) -> None:
    release = threading.Event()
    ran: list[str] = []
    writer.submit(lambda journal: release.wait(30))
    cancelled = writer.submit(lambda journal: ran.append("cancelled"))
    kept = writer.submit(lambda journal: ran.append("kept"))

    assert cancelled.cancel()
    release.set()
    writer.flush(timeout=30)

    assert ran == ["kept"]
    assert kept.done()
    with pytest.raises(CancelledError):
        cancelled.result()


def test_writer_close_drains_queue(journal_folder: Path) -> None:
    writer = JournalWriter(journal_folder)
    release = threading.Event()
    writer.submit(lambda journal: release.wait(30))
    futures = [
        writer.submit("record_sent", API_URL, "p1", f"img-{index}", {"ordering": index})
        for index in range(10)
    ]
    release.set()

    writer.close(timeout=30)

    assert writer.closed
    assert all(future.done() for future in futures)
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit("pending_sessions")
    writer.flush(timeout=1)
    writer.close(timeout=1)
    with Journal(journal_folder) as journal:
        assert len(journal.unacknowledged(API_URL, "p1")) == 10


def test_writer_reports_recovered_file(journal_folder: Path) -> None:
    journal_folder.mkdir()
    (journal_folder / DATABASE_NAME).write_bytes(b"not a database at all" * 50)

    with JournalWriter(journal_folder) as writer:
        moved = writer.recovered_from
        saved = writer.submit("record_sent", API_URL, "p1", "img", {"ordering": 1})
        assert saved.result(timeout=30) >= 1

    assert moved is not None
    assert moved.read_bytes() == b"not a database at all" * 50
