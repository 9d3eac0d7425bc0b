"""Settings of one sandbox server instance."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ORDERING_SEMANTICS = ("value", "position")

# Slow faults and slow random failures are capped so a forgotten fault cannot hang a test run.
MAX_SLOW_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Options of a sandbox server; see ``gallery-editor sandbox --help`` for each meaning."""

    host: str = "127.0.0.1"
    port: int = 0
    media_port: int = 0
    seed: int = 1
    api_key: str | None = None
    latency_ms: float = 0
    images_dir: Path | None = None
    log_requests: Path | None = None
    fail_rate: float = 0.0
    rate_limit: float | None = None
    retry_after: bool = True
    ordering_semantics: str = "value"
    data_dir: Path | None = None
    big_photos: int = 0
    many_images: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first invalid option and the accepted values."""
        validate_loopback_host(self.host)
        for name in ("port", "media_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"invalid {name} {port!r}: use 0 (any free port) to 65535")
        if self.api_key is not None and not _is_header_safe(self.api_key):
            raise ValueError("invalid api_key: it must be non-empty printable ASCII without spaces")
        if self.latency_ms < 0:
            raise ValueError(f"invalid latency_ms {self.latency_ms!r}: use 0 or more milliseconds")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"invalid fail_rate {self.fail_rate!r}: use a fraction from 0 to 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(
                f"invalid rate_limit {self.rate_limit!r}: use a positive number of requests "
                "per second, or None for no limit"
            )
        if self.ordering_semantics not in ORDERING_SEMANTICS:
            raise ValueError(
                f"invalid ordering_semantics {self.ordering_semantics!r}: use 'value' or 'position'"
            )
        for name in ("big_photos", "many_images"):
            count = getattr(self, name)
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"invalid {name} {count!r}: use a whole number, 0 or more")
        if self.images_dir is not None and not Path(self.images_dir).is_dir():
            raise ValueError(
                f"invalid images_dir {str(self.images_dir)!r}: it is not a directory; "
                "pass an existing folder of image files"
            )


def validate_loopback_host(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address, so the sandbox is never exposed."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"invalid host {host!r}: use a loopback address such as 127.0.0.1"
        ) from None
    if not address.is_loopback:
        raise ValueError(
            f"invalid host {host!r}: the sandbox listens on loopback only; use 127.0.0.1"
        )


def _is_header_safe(value: str) -> bool:
    return bool(value) and all(33 <= ord(character) <= 126 for character in value)
