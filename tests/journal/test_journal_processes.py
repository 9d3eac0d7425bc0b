"""Several processes and threads on one journal folder, and a writer killed mid-transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gallery_editor.journal import Journal, JournalBusyError
from journal_helpers import API_URL, make_product, start_child

WRITES_PER_PROCESS = 40


def finish(child: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    go_file = tmp_path / "go"
    workers = ("first", "second")
    children = [
        start_child("write", str(folder), worker, str(WRITES_PER_PROCESS), str(go_file))
        for worker in workers
    ]
    # Both children wait for this file, so they create the new database at the same time.
    go_file.touch()

    outputs = [finish(child, timeout=90) for child in children]

    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
        assert stdout.strip() == "done"
    with Journal(folder) as journal:
        sessions = journal.pending_sessions(API_URL)
        cached = journal.cached_products(API_URL)
        expected_ids = {
            f"{worker}-{index}" for worker in workers for index in range(WRITES_PER_PROCESS)
        }
        assert {summary.product_id for summary in sessions} == expected_ids
        assert {product.id for product, _ in cached} == expected_ids
        for product_id in expected_ids:
            sent = journal.unacknowledged(API_URL, product_id)
            assert len(sent) == 1, product_id
            session = journal.load_session(API_URL, product_id)
            assert session is not None
            assert session.snapshot == make_product(product_id, image_count=2)


def test_threads_share_one_journal(journal: Journal) -> None:
    errors: list[BaseException] = []

    def write_many(worker: int) -> None:
        try:
            for index in range(25):
                product = make_product(f"t{worker}-{index}", image_count=1)
                journal.save_session(API_URL, product.id, product, {}, [], 0, product.name)
                journal.record_sent(API_URL, product.id, "img", {"ordering": index})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(journal.pending_sessions()) == 100


def test_threads_with_own_connections(journal_folder: Path) -> None:
    Journal(journal_folder).close()
    errors: list[BaseException] = []
    sent_ids: list[int] = []
    lock = threading.Lock()

    def write_many(worker: int) -> None:
        try:
            with Journal(journal_folder) as own:
                for index in range(25):
                    sent_id = own.record_sent(API_URL, "p1", f"w{worker}", {"ordering": index})
                    with lock:
                        sent_ids.append(sent_id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(set(sent_ids)) == 100
    with Journal(journal_folder) as journal:
        assert len(journal.unacknowledged(API_URL, "p1")) == 100
        assert journal.sent_values(API_URL, "p1") == {
            f"w{worker}": {"ordering": 24} for worker in range(4)
        }


@pytest.fixture
def lock_holder(journal_folder: Path) -> subprocess.Popen[str]:
    """A child process that holds the write lock with an uncommitted row until killed."""
    child = start_child("hold-lock", str(journal_folder))
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "locked":
        child.kill()
        _, stderr = child.communicate()
        pytest.fail(f"lock holder did not start: {line!r} {stderr}")
    yield child
    if child.poll() is None:
        child.kill()
    child.communicate()


def test_held_lock_raises_busy(journal_folder: Path, lock_holder: subprocess.Popen[str]) -> None:
    with Journal(journal_folder, busy_timeout=0.3) as journal:
        started = time.monotonic()
        with pytest.raises(JournalBusyError, match="locked"):
            journal.record_sent(API_URL, "p1", "img", {"ordering": 1})
        waited = time.monotonic() - started

        # Readers are not blocked by the writer in WAL mode.
        assert journal.pending_sessions() == []
    assert waited >= 0.25


def test_killed_writer_does_not_block(
    journal_folder: Path, lock_holder: subprocess.Popen[str]
) -> None:
    os.kill(lock_holder.pid, signal.SIGKILL)
    lock_holder.wait(timeout=30)

    started = time.monotonic()
    with Journal(journal_folder) as journal:
        product = make_product("after-kill")
        journal.save_session(API_URL, product.id, product, {"ok": 1}, [], 0, product.name)
        sessions = journal.pending_sessions()
    elapsed = time.monotonic() - started

    assert lock_holder.returncode == -signal.SIGKILL
    assert elapsed < journal.busy_timeout / 2
    assert [summary.product_id for summary in sessions] == ["after-kill"]
