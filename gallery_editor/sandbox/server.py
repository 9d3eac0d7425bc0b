"""The sandbox server: a Kelviq-compatible API port and a media port, both on loopback."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

from gallery_editor.sandbox.api import ApiRequestHandler
from gallery_editor.sandbox.catalog import Catalog
from gallery_editor.sandbox.config import SandboxConfig
from gallery_editor.sandbox.faults import FaultInjector, RandomFailures, RateLimiter
from gallery_editor.sandbox.http_base import SandboxHttpServer
from gallery_editor.sandbox.media import MediaRequestHandler, PictureStore
from gallery_editor.sandbox.persistence import StateFile
from gallery_editor.sandbox.seeding import (
    build_big_photos_product,
    build_images_dir_product,
    build_many_images_product,
    build_seeded_catalog,
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# How often the serving threads check for stop(); stop() waits up to this long per port.
SHUTDOWN_POLL_SECONDS = 0.05


class SandboxServer:
    """Runs the sandbox in background threads; use as a context manager or call start()/stop().

    After start(): ``api_url`` (``http://127.0.0.1:PORT/api/v1``), ``media_url``
    (``http://127.0.0.1:MEDIAPORT/``), ``api_key``, ``catalog``, ``faults`` and
    ``request_log`` (one dict per request on either port).
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.api_key = self.config.api_key or "sandbox_" + secrets.token_urlsafe(24)
        self.faults = FaultInjector()
        self.request_log: list[dict[str, object]] = []
        self.rate_limiter = RateLimiter(self.config.rate_limit)
        self.random_failures = RandomFailures(self.config.fail_rate, self.config.seed)
        self._catalog: Catalog | None = None
        self._pictures: PictureStore | None = None
        self._api_server: SandboxHttpServer | None = None
        self._api_port: int | None = None
        self._media_port: int | None = None
        self._media_server: SandboxHttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._log_file: IO[str] | None = None
        self._state_file: StateFile | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> SandboxServer:
        """Bind both ports, build the catalog and serve in background threads.

        Raises ValueError for an invalid config and OSError when a port cannot be bound.
        """
        if self._api_server is not None:
            raise RuntimeError("sandbox server is already running; call stop() before start()")
        config = self._normalised_config()
        config.validate()
        self.config = config
        self._bind(config)
        try:
            self._catalog = self._build_catalog(config)
            self._pictures = PictureStore(config.seed, config.data_dir)
            if config.log_requests is not None:
                config.log_requests.parent.mkdir(parents=True, exist_ok=True)
                self._log_file = config.log_requests.open("a", encoding="utf-8")
        except BaseException:
            self._close_servers()
            raise
        for server, name in ((self._api_server, "api"), (self._media_server, "media")):
            thread = threading.Thread(
                target=server.serve_forever,  # type: ignore[union-attr]
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name=f"sandbox-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        logger.info(
            "Sandbox started: api %s, media %s, seed %s, ordering %s",
            self.api_url,
            self.media_url,
            config.seed,
            config.ordering_semantics,
        )
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and the request log file."""
        if self._api_server is None:
            return
        for server in (self._api_server, self._media_server):
            if server is not None:
                server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._close_connections()
        self._close_servers()
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
        logger.info("Sandbox stopped")

    # --- public state -------------------------------------------------------------------

    @property
    def api_port(self) -> int:
        return self._require(self._api_port)

    @property
    def media_port(self) -> int:
        return self._require(self._media_port)

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.config.host)}:{self.api_port}/api/v1"

    @property
    def media_url(self) -> str:
        return f"http://{_url_host(self.config.host)}:{self.media_port}/"

    @property
    def catalog(self) -> Catalog:
        return self._require(self._catalog)

    @property
    def pictures(self) -> PictureStore:
        return self._require(self._pictures)

    def state(self) -> dict[str, object]:
        """Return the URLs, well-known ids, all products and the request log as JSON data."""
        catalog = self.catalog
        with self._lock:
            request_log = list(self.request_log)
        return {
            "apiUrl": self.api_url,
            "mediaUrl": self.media_url,
            "seed": self.config.seed,
            "orderingSemantics": catalog.ordering_semantics,
            "wellKnown": dict(catalog.well_known),
            "products": [catalog.get_product(product_id) for product_id in catalog.product_ids()],
            "pendingFaults": [fault.to_json() for fault in self.faults.pending()],
            "requestLog": request_log,
        }

    # --- called by request handlers -----------------------------------------------------

    def record_request(self, entry: dict[str, object]) -> None:
        """Append ``entry`` to ``request_log`` and, if configured, to the log file as one line."""
        with self._lock:
            self.request_log.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry) + "\n")
                self._log_file.flush()

    def register_connection(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def unregister_connection(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    # --- helpers ------------------------------------------------------------------------

    def _normalised_config(self) -> SandboxConfig:
        config = self.config
        paths = {
            name: Path(getattr(config, name))
            for name in ("images_dir", "log_requests", "data_dir")
            if getattr(config, name) is not None
        }
        return replace(config, **paths)  # type: ignore[arg-type]

    def _bind(self, config: SandboxConfig) -> None:
        self._api_server = SandboxHttpServer((config.host, config.port), ApiRequestHandler, self)
        try:
            self._media_server = SandboxHttpServer(
                (config.host, config.media_port), MediaRequestHandler, self
            )
        except BaseException:
            self._api_server.server_close()
            self._api_server = None
            raise
        self._api_port = self._api_server.server_port
        self._media_port = self._media_server.server_port

    def _build_catalog(self, config: SandboxConfig) -> Catalog:
        products, well_known = build_seeded_catalog(config.seed)
        if config.data_dir is not None:
            self._state_file = StateFile(config.data_dir)
        catalog = Catalog(
            products,
            well_known,
            seed=config.seed,
            media_url=self.media_url,
            ordering_semantics=config.ordering_semantics,
            on_change=self._save_state if self._state_file is not None else None,
        )
        # Extra products go first in the list, so the demo shows them on the first page.
        if config.many_images:
            catalog.add_product(
                build_many_images_product(config.seed, config.many_images), "many_images"
            )
        if config.big_photos:
            catalog.add_product(
                build_big_photos_product(config.seed, config.big_photos), "big_photos"
            )
        if config.images_dir is not None:
            catalog.add_product(
                build_images_dir_product(config.seed, config.images_dir), "images_dir"
            )
        if self._state_file is not None:
            state = self._state_file.load()
            if state is not None:
                catalog.restore_state(state)
                logger.info("Sandbox state loaded from %s", self._state_file.path)
        return catalog

    def _save_state(self, state: dict[str, object]) -> None:
        assert self._state_file is not None
        try:
            self._state_file.save(state)
        except OSError as error:
            # The change is kept in memory; only persistence across a restart is lost.
            logger.error("Sandbox could not write state file %s: %s", self._state_file.path, error)

    def _close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # Already closed by the client.

    def _close_servers(self) -> None:
        for server in (self._api_server, self._media_server):
            if server is not None:
                server.server_close()
        self._api_server = None
        self._media_server = None

    @staticmethod
    def _require(value: _T | None) -> _T:
        if value is None:
            raise RuntimeError(
                "sandbox server was never started: call start() or use it in a with block"
            )
        return value


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
