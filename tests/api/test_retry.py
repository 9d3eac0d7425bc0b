"""Tests of the retry policy: which errors are retried, how long it waits, and its callbacks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gallery_editor.api import (
    ApiError,
    AuthenticationError,
    InvalidResponseError,
    KelviqClient,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from gallery_editor.api.retry import call_with_retry, is_retryable
from gallery_editor.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NetworkError("down"), True),
        (RateLimitedError("slow down"), True),
        (ServerError("boom", status=500), True),
        (ServerError("boom", status=502), True),
        (ServerError("boom", status=503), True),
        (ServerError("boom", status=504), True),
        (ServerError("boom", status=501), False),
        (ServerError("boom", status=505), False),
        (RedirectError("moved", status=301), False),
        (AuthenticationError("no", status=401), False),
        (NotFoundError("gone", status=404), False),
        (ValidationError("bad", status=400), False),
        (InvalidResponseError("junk", status=200), False),
        (ApiError("odd", status=405), False),
        (RuntimeError("bug"), False),
    ],
)
def test_retryable_errors(error: BaseException, expected: bool) -> None:
    """Only errors a repeat can fix are retryable."""
    assert is_retryable(error) is expected


def failing(errors: list[BaseException], result: str = "done") -> Callable[[], str]:
    """Return an operation that raises each error in turn, then returns ``result``."""
    remaining = list(errors)

    def operation() -> str:
        if remaining:
            raise remaining.pop(0)
        return result

    return operation


def test_policy_defaults() -> None:
    """The documented defaults; none() makes a single attempt."""
    policy = RetryPolicy()

    assert (policy.attempts, policy.base_delay, policy.max_delay, policy.retry_after_cap) == (4, 0.5, 8.0, 60.0)
    assert RetryPolicy.none().attempts == 1


@pytest.mark.parametrize("options", [{"attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.1}, {"retry_after_cap": -5}])
def test_policy_rejects_bad_values(options: dict[str, float]) -> None:
    """Nonsense policies raise ValueError naming the option."""
    with pytest.raises(ValueError, match=next(iter(options))):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_none_policy_single_attempt() -> None:
    """RetryPolicy.none() raises the first error without waiting."""
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=1, sleep=sleeps.append)

    with pytest.raises(NetworkError):
        call_with_retry(policy, failing([NetworkError("down")]), retry_invalid_response=True)

    assert sleeps == []


def test_on_retry_before_each_wait() -> None:
    """on_retry gets each failed attempt's error and number before the wait."""
    events: list[tuple[str, object]] = []
    errors = [ServerError("a", status=503), NetworkError("b")]
    policy = RetryPolicy(
        sleep=lambda delay: events.append(("sleep", delay)),
        on_retry=lambda error, attempt: events.append(("retry", (error.message, attempt))),
    )

    assert call_with_retry(policy, failing(errors), retry_invalid_response=False) == "done"

    assert [kind for kind, _ in events] == ["retry", "sleep", "retry", "sleep"]
    assert events[0][1] == ("a", 1)
    assert events[2][1] == ("b", 2)


def test_retry_after_honoured_and_capped() -> None:
    """Retry-After sets the wait exactly, capped at retry_after_cap."""
    sleeps: list[float] = []
    errors = [RateLimitedError("x", retry_after=3.0), RateLimitedError("y", retry_after=500.0), RateLimitedError("z")]
    policy = RetryPolicy(sleep=sleeps.append, retry_after_cap=60.0, base_delay=0.5)

    call_with_retry(policy, failing(errors), retry_invalid_response=False)

    assert sleeps[:2] == [3.0, 60.0]
    assert 0.0 <= sleeps[2] <= 2.0, "a 429 without Retry-After falls back to backoff"


def test_backoff_full_jitter_bounds() -> None:
    """Backoff waits stay within [0, min(max_delay, base_delay * 2**(n-1))] and vary."""
    policy_sleeps: list[float] = []
    policy = RetryPolicy(attempts=7, base_delay=1.0, max_delay=4.0, sleep=policy_sleeps.append)

    for _ in range(20):
        call_with_retry(policy, failing([NetworkError("n")] * 6), retry_invalid_response=False)

    waits = [policy_sleeps[run * 6 : run * 6 + 6] for run in range(20)]
    for run in waits:
        for attempt, delay in enumerate(run, start=1):
            assert 0.0 <= delay <= min(4.0, 1.0 * 2 ** (attempt - 1))
    assert len({round(delay, 6) for delay in policy_sleeps}) > 10, "full jitter gives varied waits"


def test_invalid_response_retried_once() -> None:
    """InvalidResponseError is retried once when allowed, and never otherwise."""
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append)
    junk = [InvalidResponseError("junk"), InvalidResponseError("junk again")]

    assert call_with_retry(policy, failing(junk[:1]), retry_invalid_response=True) == "done"
    with pytest.raises(InvalidResponseError, match="junk again"):
        call_with_retry(policy, failing(list(junk)), retry_invalid_response=True)
    with pytest.raises(InvalidResponseError, match="^junk$"):
        call_with_retry(policy, failing(junk[:1]), retry_invalid_response=False)

    assert len(sleeps) == 2


def test_retry_after_cap_with_sandbox(make_client: Callable[..., KelviqClient], sandbox: SandboxServer) -> None:
    """The sandbox's Retry-After: 1 is cut to a smaller cap before the retry."""
    sleeps: list[float] = []
    client = make_client(retry=RetryPolicy(sleep=sleeps.append, retry_after_cap=0.25))
    sandbox.faults.add("status:429", method="GET")

    product = client.get_product(sandbox.catalog.well_known["ten"])

    assert product.id == sandbox.catalog.well_known["ten"]
    assert sleeps == [0.25]


def test_api_package_imports_no_qt() -> None:
    """Importing the API client loads no Qt module, so headless commands can use it."""
    code = (
        "import sys, gallery_editor.api, gallery_editor.api.parsing; "
        "loaded = [name for name in sys.modules if name.startswith(('PySide6', 'shiboken6'))]; "
        "sys.exit(1 if loaded else 0)"
    )

    repository = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repository, capture_output=True, text=True, timeout=20, check=False
    )

    assert result.returncode == 0, result.stderr
