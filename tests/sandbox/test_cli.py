"""The sandbox command in a child process: printed URLs, clean stop on signals, exit codes."""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(60)

REPOSITORY = Path(__file__).resolve().parents[2]
# The top-level CLI adds these options to its "sandbox" subcommand in the same way.
RUN_SANDBOX = (
    "import argparse, sys\n"
    "from gallery_editor.sandbox import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def _start(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_SANDBOX, *arguments],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_lines(process: subprocess.Popen[str], count: int, timeout: float = 20.0) -> list[str]:
    """Read ``count`` lines from the child's stdout, failing after ``timeout`` seconds."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    # Read the raw descriptor: a buffered readline could swallow lines the selector then misses.
    received = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while received.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"sandbox printed only {received!r} within {timeout} s"
            if selector.select(remaining):
                chunk = os.read(descriptor, 4096)
                assert chunk, f"sandbox stdout closed after {received!r}"
                received += chunk
    return received.decode().splitlines()[:count]


@pytest.fixture
def running() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = _start("--port", "0", "--media-port", "0", "--seed", "4")
    try:
        lines = _read_lines(process, 3)
        values = dict(line.split("=", 1) for line in lines)
        yield process, values
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_prints_three_lines(running: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    _, values = running
    assert list(values) == ["api_url", "media_url", "api_key"]
    assert values["api_url"].startswith("http://127.0.0.1:")
    assert values["api_url"].endswith("/api/v1")
    assert values["media_url"].startswith("http://127.0.0.1:")
    assert values["media_url"].endswith("/")
    assert len(values["api_key"]) >= 20


def test_serves_then_stops_on_sigterm(
    running: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, values = running
    response = httpx.get(
        values["api_url"] + "/catalog/products/",
        headers={"Authorization": f"Bearer {values['api_key']}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["count"] == 250
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(values["api_url"] + "/catalog/products/", timeout=2)
    stderr = process.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr
    assert values["api_key"] not in stderr


def test_stops_on_sigint(running: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    process, _ = running
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_fixed_key_and_options(tmp_path: Path) -> None:
    log_path = tmp_path / "requests.jsonl"
    process = _start(
        "--port",
        "0",
        "--media-port",
        "0",
        "--api-key",
        "cli-test-key",
        "--log-requests",
        str(log_path),
        "--ordering-semantics",
        "position",
        "--many-images",
        "3",
    )
    try:
        values = dict(line.split("=", 1) for line in _read_lines(process, 3))
        assert values["api_key"] == "cli-test-key"
        state = httpx.get(
            values["api_url"] + "/_sandbox/state",
            headers={"Authorization": "Bearer cli-test-key"},
            timeout=10,
        ).json()
        assert state["orderingSemantics"] == "position"
        assert "many_images" in state["wellKnown"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert '"path": "/api/v1/_sandbox/state"' in log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--fail-rate", "1.5"],
        ["--port", "70000"],
        ["--latency-ms", "-1"],
        ["--rate-limit", "0"],
        ["--big-photos", "many"],
        ["--ordering-semantics", "random"],
        ["--host", "0.0.0.0", "--port", "0", "--media-port", "0"],
        ["--images-dir", "/nonexistent/folder", "--port", "0", "--media-port", "0"],
    ],
)
def test_bad_option_exits_2(arguments: list[str]) -> None:
    process = _start(*arguments)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stdout == ""
    assert "invalid" in stderr


def test_port_in_use_exits_1() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        process = _start("--port", str(port), "--media-port", "0")
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stdout == ""
    assert "port already in use" in stderr


def test_free_api_port_gives_free_media_port() -> None:
    """With --port 0 and no --media-port, the media server takes a free port as well."""
    from gallery_editor.sandbox import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.media_port_from_args(parser.parse_args(["--port", "0"])) == 0
    assert cli.media_port_from_args(parser.parse_args([])) == cli.DEFAULT_MEDIA_PORT
    assert cli.media_port_from_args(parser.parse_args(["--port", "0", "--media-port", "9"])) == 9
