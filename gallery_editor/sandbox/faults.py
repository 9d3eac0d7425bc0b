"""Fault injection, seeded random failures and the rate limiter of the sandbox API."""

from __future__ import annotations

import collections
import logging
import random
import re
import threading
import time
from dataclasses import dataclass

from gallery_editor.sandbox.config import MAX_SLOW_SECONDS

logger = logging.getLogger(__name__)

# Faults that replace the response before the request is handled (nothing is changed).
BEFORE_KINDS = ("drop_connection", "html_error")
# Faults that damage the JSON of the real response (a PATCH or DELETE has been applied).
AFTER_KINDS = ("malformed_json", "truncated_json", "wrong_types", "missing_fields", "foreign_next")
FAULT_KINDS = BEFORE_KINDS + AFTER_KINDS + ("status:NNN", "slow:SECONDS")

_STATUS_KIND = re.compile(r"status:([1-5][0-9][0-9])")
_SLOW_KIND = re.compile(r"slow:([0-9]+(?:\.[0-9]+)?)")

# Kinds of the random failures drawn for fail_rate, with equal chances.
RANDOM_FAILURE_KINDS = ("status:500", "status:503", "drop_connection", "slow")
RANDOM_SLOW_SECONDS = 3.0


@dataclass(slots=True)
class Fault:
    """One injected fault: ``kind`` applies to requests matching ``path`` and ``method``."""

    kind: str
    path: str | None = None
    method: str | None = None
    times: int | None = 1

    @property
    def status(self) -> int | None:
        match = _STATUS_KIND.fullmatch(self.kind)
        return int(match.group(1)) if match else None

    @property
    def slow_seconds(self) -> float | None:
        match = _SLOW_KIND.fullmatch(self.kind)
        return float(match.group(1)) if match else None

    @property
    def damages_response(self) -> bool:
        return self.kind in AFTER_KINDS

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "path": self.path, "method": self.method, "times": self.times}

    def matches(self, path: str, method: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None or self.path in path:
            return True
        try:
            return re.search(self.path, path) is not None
        except re.error:
            return False


class FaultInjector:
    """Queue of faults for tests; the first fault matching a request is used and counted down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        kind: str,
        path: str | None = None,
        method: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Inject ``kind`` for the next ``times`` API requests (None: every request) that match.

        ``path`` is a substring or regular expression searched in the request path with its
        query string; ``method`` compares without case. Kinds: ``malformed_json``,
        ``truncated_json``, ``wrong_types``, ``missing_fields``, ``status:NNN``,
        ``drop_connection``, ``slow:SECONDS``, ``foreign_next`` and ``html_error``.
        """
        fault = Fault(kind=kind, path=path, method=method, times=times)
        validate_fault(fault)
        with self._lock:
            self._faults.append(fault)
        logger.info("Sandbox fault added: %s", fault.to_json())
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str, method: str) -> Fault | None:
        """Return the first fault matching the request and use up one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path, method):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def validate_fault(fault: Fault) -> None:
    """Raise ValueError naming the invalid value of ``fault`` and the accepted ones."""
    kind = fault.kind
    if not isinstance(kind, str) or not (
        kind in BEFORE_KINDS
        or kind in AFTER_KINDS
        or _STATUS_KIND.fullmatch(kind)
        or _SLOW_KIND.fullmatch(kind)
    ):
        raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
    slow_seconds = fault.slow_seconds
    if slow_seconds is not None and slow_seconds > MAX_SLOW_SECONDS:
        raise ValueError(f"invalid fault kind {kind!r}: use at most {MAX_SLOW_SECONDS:g} seconds")
    if fault.path is not None and not isinstance(fault.path, str):
        raise ValueError(f"invalid fault path {fault.path!r}: use a string or None")
    if fault.method is not None and not isinstance(fault.method, str):
        raise ValueError(
            f"invalid fault method {fault.method!r}: use a string such as 'PATCH' or None"
        )
    times = fault.times
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(
            f"invalid fault times {times!r}: use a positive integer, or None for always"
        )


@dataclass(frozen=True, slots=True)
class RandomFailure:
    """Failure drawn for one request; ``after_change``: a PATCH or DELETE is applied first."""

    kind: str
    after_change: bool


class RandomFailures:
    """Seeded draw of failures for a fraction ``fail_rate`` of the API requests."""

    def __init__(self, fail_rate: float, seed: int) -> None:
        self._fail_rate = fail_rate
        self._random = random.Random(f"{seed}:failures")
        self._lock = threading.Lock()

    def draw(self, method: str) -> RandomFailure | None:
        if self._fail_rate <= 0:
            return None
        with self._lock:
            if self._random.random() >= self._fail_rate:
                return None
            kind = self._random.choice(RANDOM_FAILURE_KINDS)
            after_change = method in ("PATCH", "DELETE") and self._random.random() < 0.5
        return RandomFailure(kind=kind, after_change=after_change and kind != "slow")


class RateLimiter:
    """Sliding one-second window that accepts at most ``limit`` requests."""

    def __init__(self, limit: float | None) -> None:
        self._limit = limit
        self._accepted: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Record the request and return True, or return False when it is over the limit."""
        if self._limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            while self._accepted and now - self._accepted[0] >= 1.0:
                self._accepted.popleft()
            if len(self._accepted) >= self._limit:
                return False
            self._accepted.append(now)
            return True
