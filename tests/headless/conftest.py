"""Fixtures for the headless commands: sandboxes in this process or in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.sandbox import SandboxConfig, SandboxServer

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(seed=9)).start()
    yield server
    server.stop()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KelviqClient]:
    with KelviqClient(sandbox.api_url, sandbox.api_key, media_url=sandbox.media_url, retry=RetryPolicy.none()) as api:
        yield api


@dataclass
class ChildSandbox:
    """A sandbox running as `gallery-editor sandbox` in a child process."""

    process: subprocess.Popen[str]
    api_url: str
    media_url: str
    api_key: str
    log_file: Path


def run_cli(
    arguments: list[str], *, api_key: str, data_dir: Path, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m gallery_editor ARGUMENTS` from the repository and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "gallery_editor", *arguments, "--data-dir", str(data_dir)],
        cwd=REPOSITORY,
        env=cli_environment(api_key),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_environment(api_key: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment["KELVIQ_API_KEY"] = api_key
    environment["PYTHONPATH"] = str(REPOSITORY)
    return environment


@pytest.fixture
def child_sandbox(tmp_path: Path) -> Iterator[ChildSandbox]:
    log_file = tmp_path / "requests.jsonl"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gallery_editor", "sandbox", "--port", "0", "--media-port", "0",
            "--seed", "9", "--latency-ms", "150", "--log-requests", str(log_file),
        ],
        cwd=REPOSITORY,
        env=cli_environment(""),
        stdout=subprocess.PIPE,
        text=True,
    )
    values: dict[str, str] = {}
    assert process.stdout is not None
    while len(values) < 3:
        line = process.stdout.readline()
        if not line:
            process.kill()
            raise AssertionError("the sandbox process ended before printing its URLs and key")
        key, _, value = line.strip().partition("=")
        values[key] = value
    yield ChildSandbox(process, values["api_url"], values["media_url"], values["api_key"], log_file)
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()
