"""Processes for the crash tests: a sandbox server and the app driven through its test control."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from gallery_editor.api.parsing import parse_product
from gallery_editor.domain.models import Product

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 60.0


class _LineReader:
    """Reads a pipe on a thread so that the test can wait for a line with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout: float) -> str | None:
        """Return the next line, or None when the pipe closed; raise TimeoutError after `timeout`."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no line within {timeout} s") from None


def _environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


@dataclass
class SandboxAddress:
    api_url: str
    media_url: str
    api_key: str

    @property
    def api_port(self) -> int:
        return int(self.api_url.split(":")[2].split("/")[0])

    @property
    def media_port(self) -> int:
        return int(self.media_url.split(":")[2].split("/")[0])


class SandboxProcess:
    """``gallery-editor sandbox`` in its own process, keeping its catalog in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        *,
        port: int = 0,
        media_port: int = 0,
        api_key: str | None = None,
    ) -> None:
        command = [
            sys.executable, "-m", "gallery_editor", "sandbox",
            "--port", str(port), "--media-port", str(media_port),
            "--data-dir", str(data_dir), "--latency-ms", "30", "--log-requests", str(log_path),
        ]
        if api_key is not None:
            command += ["--api-key", api_key]
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=_environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._reader = _LineReader(self.process.stdout)  # type: ignore[arg-type]
        values: dict[str, str] = {}
        while len(values) < 3:
            line = self._reader.next_line(START_TIMEOUT_S)
            if line is None:
                raise AssertionError(f"the sandbox ended at start: {self.process.stderr.read()}")  # type: ignore[union-attr]
            key, _, value = line.partition("=")
            if key in ("api_url", "media_url", "api_key"):
                values[key] = value
        self.address = SandboxAddress(values["api_url"], values["media_url"], values["api_key"])

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.address.api_key}"}

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.address.api_url}/_sandbox/state", headers=self._headers(), timeout=10)
        response.raise_for_status()
        return response.json()

    def well_known(self, name: str) -> str:
        return str(self.state()["wellKnown"][name])

    def product(self, product_id: str) -> Product:
        response = httpx.get(
            f"{self.address.api_url}/catalog/products/{product_id}/", headers=self._headers(), timeout=10
        )
        response.raise_for_status()
        return parse_product(response.json())

    def change_image(self, product_id: str, image_id: str, **fields: object) -> None:
        """Change an image behind the app's back, as another user would."""
        response = httpx.patch(
            f"{self.address.api_url}/_sandbox/products/{product_id}/images/{image_id}",
            headers=self._headers(), json=fields, timeout=10,
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class AppProcess:
    """The gallery editor window (offscreen) with ``--test-control`` on its standard input."""

    def __init__(self, sandbox: SandboxAddress, data_dir: Path, product_id: str) -> None:
        command = [
            sys.executable, "-m", "gallery_editor",
            "--base-url", sandbox.api_url, "--media-url", sandbox.media_url,
            "--data-dir", str(data_dir), "--product", product_id, "--test-control",
        ]
        self.stderr_path = data_dir.parent / f"{data_dir.name}-stderr.txt"
        self._stderr = self.stderr_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=_environment(KELVIQ_API_KEY=sandbox.api_key),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self._reader = _LineReader(self.process.stdout)  # type: ignore[arg-type]

    def send(self, op: str, **arguments: object) -> dict[str, Any]:
        """Send one command and return its reply; raise AssertionError on an error reply."""
        reply = self.request(op, **arguments)
        if not reply.get("ok"):
            raise AssertionError(f"{op} failed: {reply}")
        return reply

    def request(self, op: str, **arguments: object) -> dict[str, Any]:
        self.write(op, **arguments)
        return self.read_reply()

    def write(self, op: str, **arguments: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()

    def read_reply(self) -> dict[str, Any]:
        while True:
            line = self._reader.next_line(REPLY_TIMEOUT_S)
            if line is None:
                raise AssertionError(f"the app ended; its errors:\n{self.errors()}")
            if line.startswith("{"):
                return json.loads(line)

    def kill(self) -> None:
        """SIGKILL the app, as a crash or a power cut would end it."""
        self.process.kill()
        self.process.wait()
        self._close_pipes()

    def quit(self) -> None:
        self.send("quit")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def errors(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def _close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        self._stderr.close()


def working_state(state: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The order and fields of a ``state`` reply."""
    return tuple(state["order"]), state["fields"]


def server_state(product: Product) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The same form for a product as the server shows it."""
    images = product.images_in_order()
    fields = {
        image.id: {"name": image.name, "thumbnail": image.thumbnail, "enabled": image.enabled}
        for image in images
    }
    return tuple(image.id for image in images), fields
