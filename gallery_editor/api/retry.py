"""Retry policy for idempotent Kelviq API calls, built on tenacity.

The client retries only idempotent calls (GET, image PATCH, image DELETE), and only on
errors that a later attempt can fix:

- ``NetworkError`` (connect failure, timeout, dropped connection), but not ``RedirectError``,
  because a 3xx response does not change on repetition;
- ``RateLimitedError`` (429), waiting the server's ``Retry-After`` capped at
  ``retry_after_cap`` when it sent one;
- ``ServerError`` with status 500, 502, 503 or 504.

A body that is cut off or is not valid JSON (``InvalidResponseError`` raised while reading
or decoding) is retried once on a GET, because damage in transit is usually a one-off.
Valid JSON of the wrong shape is not retried, because the server would send the same
again. On a PATCH or DELETE no ``InvalidResponseError`` is retried: the server answered
with a success status, so the change has most likely been applied, and the caller
re-reads the product to see the result.

Waits use exponential backoff with full jitter: a random time between 0 and
``min(max_delay, base_delay * 2 ** (attempt - 1))`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_base, stop_after_attempt, wait_random_exponential

from gallery_editor.api.errors import (
    ApiError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    RedirectError,
    ServerError,
)

__all__ = ["RETRYABLE_SERVER_STATUSES", "RetryPolicy", "call_with_retry"]

logger = logging.getLogger(__name__)

RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry an idempotent call.

    ``attempts`` counts the first try, so 4 means up to three retries. ``on_retry(error,
    attempt)`` runs before each wait with the error of the attempt that just failed
    (numbered from 1). ``sleep`` does the waiting; tests pass a function that records the
    delay instead of sleeping.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 60.0
    on_retry: Callable[[ApiError, int], None] | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}.")
        for name in ("base_delay", "max_delay", "retry_after_cap"):
            if getattr(self, name) < 0:
                raise ValueError(f"RetryPolicy.{name} must not be negative, got {getattr(self, name)}.")

    @classmethod
    def none(cls) -> RetryPolicy:
        """Return a policy of a single attempt, for callers that do their own retries."""
        return cls(attempts=1)


class _RetryableError(retry_base):
    """Tenacity predicate that decides, per failed attempt, whether to try again."""

    def __init__(self, *, retry_invalid_response: bool) -> None:
        self._invalid_responses_left = 1 if retry_invalid_response else 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if isinstance(error, InvalidResponseError):
            return self._use_invalid_response_retry()
        return is_retryable(error)

    def _use_invalid_response_retry(self) -> bool:
        if self._invalid_responses_left == 0:
            return False
        self._invalid_responses_left -= 1
        return True


def is_retryable(error: BaseException) -> bool:
    """Return whether a repeat of the same idempotent request may succeed after ``error``."""
    if isinstance(error, RedirectError):
        return False
    if isinstance(error, (NetworkError, RateLimitedError)):
        return True
    return isinstance(error, ServerError) and error.status in RETRYABLE_SERVER_STATUSES


class _BackoffWait:
    """Tenacity wait: the server's Retry-After when a 429 sent one, else full-jitter backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_random_exponential(multiplier=policy.base_delay, max=policy.max_delay)

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self._policy.retry_after_cap)
        return float(self._backoff(retry_state))


def call_with_retry(
    policy: RetryPolicy,
    operation: Callable[[], _T],
    *,
    retry_invalid_response: bool,
) -> _T:
    """Run ``operation`` and retry it under ``policy``; raise the last error when attempts run out."""
    retrying = Retrying(
        sleep=policy.sleep,
        stop=stop_after_attempt(policy.attempts),
        wait=_BackoffWait(policy),
        retry=_RetryableError(retry_invalid_response=retry_invalid_response),
        before_sleep=lambda state: _before_sleep(policy, state),
        reraise=True,
    )
    return retrying(operation)


def _before_sleep(policy: RetryPolicy, retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if not isinstance(error, ApiError):
        return
    delay = retry_state.upcoming_sleep
    # INFO, not WARNING: a retry is routine, and the caller reports the failure if every
    # attempt fails.
    logger.info(
        "Retrying in %.2f s after attempt %d of %d failed: %s",
        delay,
        retry_state.attempt_number,
        policy.attempts,
        error,
    )
    if policy.on_retry is not None:
        policy.on_retry(error, retry_state.attempt_number)
