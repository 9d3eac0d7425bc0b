"""Tests of DecodePool: real child processes, time limits, crashes and priorities."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest
from thumbnail_support import make_jpeg

from gallery_editor.thumbnails.decode import DecodeError
from gallery_editor.thumbnails.worker import DecodePool, WorkerLost, echo_after


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


def test_pool_gives_download_its_own_limit(pool: DecodePool) -> None:
    # 2 s before the progress report is past the 1.5 s decode limit but inside the prelude limit.
    future = pool.submit_call(echo_after, 2.0, b"facts", 0.1, prelude_timeout=10)
    assert future.result(timeout=30) == b"facts"


def test_pool_limits_decode_after_progress(pool: DecodePool) -> None:
    started = time.monotonic()
    future = pool.submit_call(echo_after, 0.0, b"facts", 60.0, prelude_timeout=10)
    with pytest.raises(WorkerLost) as caught:
        future.result(timeout=30)
    assert caught.value.reason == "timed out"
    assert caught.value.progress == b"facts"
    assert time.monotonic() - started < 10


def test_pool_limits_prelude(pool: DecodePool) -> None:
    future = pool.submit_call(echo_after, 60.0, b"never", 0.0, prelude_timeout=0.5)
    with pytest.raises(WorkerLost) as caught:
        future.result(timeout=30)
    assert caught.value.reason == "download timed out"
    assert caught.value.progress is None


def test_pool_logs_worker_stderr(
    pool: DecodePool, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="gallery_editor.thumbnails.worker")
    # os.write to fd 2 is what a native library such as libtiff does.
    assert pool.submit_call(os.write, 2, b"_tiffReadProc: Invalid Read\n").result(timeout=30) > 0
    assert pool.submit_call(os.write, 2, b"no newline at the end").result(timeout=30) > 0
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.endswith(": _tiffReadProc: Invalid Read") for message in messages)
    assert any(message.endswith(": no newline at the end") for message in messages)
    assert "Invalid Read" not in capfd.readouterr().err


def test_pool_limits_stderr_lines_per_job(pool: DecodePool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gallery_editor.thumbnails.worker")
    noise = b"".join(b"line %d\n" % index for index in range(50))
    pool.submit_call(os.write, 2, noise).result(timeout=30)
    messages = [record.getMessage() for record in caplog.records]
    assert sum(": line " in message for message in messages) == 20
    assert any(message.endswith("wrote 30 more lines to standard error") for message in messages)


def test_pool_lowers_worker_priority(pool: DecodePool) -> None:
    assert pool.submit_call(os.nice, 0).result(timeout=30) >= os.nice(0) + pool.niceness


def test_pool_forwards_worker_log_records(pool: DecodePool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gallery_editor.thumbnails.worker")
    with pytest.raises(DecodeError):
        pool.submit_call(int, "not a number").result(timeout=30)
    messages = [record.getMessage() for record in caplog.records]
    assert any("WARNING gallery_editor.thumbnails.worker: Decode worker call failed" in message for message in messages)
