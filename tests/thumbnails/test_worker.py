"""Tests of DecodePool: real child processes, time limits, crashes and priorities."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from thumbnail_support import make_jpeg

from gallery_editor.thumbnails.decode import DecodeError
from gallery_editor.thumbnails.worker import DecodePool, echo_after


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    instance = DecodePool(workers=2, timeout=1.5)
    yield instance
    instance.shutdown()


def test_pool_decodes_in_child_process(pool: DecodePool) -> None:
    thumbnail = pool.submit_decode(make_jpeg(800, 600), 200).result(timeout=30)
    assert (thumbnail.width, thumbnail.height) == (200, 150)
    child_pid = pool.submit_call(os.getpid).result(timeout=30)
    assert child_pid != os.getpid()


def test_pool_reports_decode_errors(pool: DecodePool) -> None:
    future = pool.submit_decode(b"<html></html>", 200)
    with pytest.raises(DecodeError) as caught:
        future.result(timeout=30)
    assert caught.value.reason == "not an image"


def test_pool_kills_job_past_deadline(pool: DecodePool) -> None:
    pool.submit_call(echo_after, 0.0, b"warm").result(timeout=30)
    started = time.monotonic()
    stuck = pool.submit_call(echo_after, 60.0, b"never")
    quick = [pool.submit_call(echo_after, 0.05, bytes([index])) for index in range(10)]
    assert [future.result(timeout=30) for future in quick] == [bytes([index]) for index in range(10)]
    with pytest.raises(DecodeError) as caught:
        stuck.result(timeout=30)
    assert caught.value.reason == "timed out"
    assert time.monotonic() - started < 10
    # The killed worker is replaced: the pool still runs jobs on both slots.
    results = [pool.submit_call(echo_after, 0.2, b"ok") for _ in range(4)]
    assert [future.result(timeout=30) for future in results] == [b"ok"] * 4


def test_pool_survives_crashed_worker(pool: DecodePool) -> None:
    crash = pool.submit_call(os._exit, 3)
    with pytest.raises(DecodeError) as caught:
        crash.result(timeout=30)
    assert caught.value.reason == "decoder crashed"
    assert pool.submit_call(echo_after, 0.0, b"after").result(timeout=30) == b"after"


def test_pool_reports_unexpected_exceptions(pool: DecodePool) -> None:
    future = pool.submit_call(int, "not a number")
    with pytest.raises(DecodeError) as caught:
        future.result(timeout=30)
    assert caught.value.reason == "decoder failed (ValueError)"


def test_pool_runs_higher_priority_first() -> None:
    pool = DecodePool(workers=1, timeout=10)
    try:
        pool.submit_call(echo_after, 0.0, b"warm").result(timeout=30)
        blocker = pool.submit_call(echo_after, 0.5, b"blocker")
        finished: list[bytes] = []
        futures = [
            pool.submit_call(echo_after, 0.0, b"low", priority=0),
            pool.submit_call(echo_after, 0.0, b"high", priority=10),
            pool.submit_call(echo_after, 0.0, b"middle", priority=5),
        ]
        for future in futures:
            future.add_done_callback(lambda done: finished.append(done.result()))
        blocker.result(timeout=30)
        for future in futures:
            future.result(timeout=30)
        assert finished == [b"high", b"middle", b"low"]
    finally:
        pool.shutdown()


def test_pool_cancels_queued_jobs() -> None:
    pool = DecodePool(workers=1, timeout=10)
    try:
        blocker = pool.submit_call(echo_after, 0.5, b"blocker")
        time.sleep(0.2)
        queued = [pool.submit_call(echo_after, 0.0, b"x") for _ in range(3)]
        assert pool.cancel_queued() == 3
        assert all(future.cancelled() for future in queued)
        assert blocker.result(timeout=30) == b"blocker"
    finally:
        pool.shutdown()


def test_pool_rejects_work_after_shutdown() -> None:
    pool = DecodePool(workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit_call(echo_after, 0.0, b"x")
