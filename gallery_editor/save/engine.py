"""The save engine: conflict check, plan, concurrent PATCH passes, read-back and fallback.

A save runs these steps for one product:

1. Read the product again and merge the user's target with it (`domain.conflicts`).
   Unresolved conflicts end the save before anything is sent.
2. Plan the fewest PATCH requests (`domain.planner.plan_patches`) and send them, up to
   ``concurrency`` at once, one fewer after each HTTP 429. Every request is recorded in
   the journal before it is sent and acknowledged with the updated snapshot after a 2xx.
3. Changes that still fail after their retries are planned again from the updated
   snapshot and sent in a further pass, until everything is saved, a pass saves nothing,
   ``max_passes`` is reached or the deadline passes.
4. Read the product back and compare it with the target. When only the order differs,
   send the dense 0..n-1 orderings strictly one at a time and compare again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from gallery_editor.api import (
    ApiError,
    AuthenticationError,
    KelviqClient,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
)
from gallery_editor.domain.conflicts import MergeResult, merge
from gallery_editor.domain.models import Product, TargetImage
from gallery_editor.domain.planner import Patch, dense_ordering_patches, plan_patches
from gallery_editor.journal import Journal, JournalError
from gallery_editor.save.sender import (
    ConcurrencyLimit,
    PassContext,
    PassOutcome,
    PassSender,
    SnapshotHolder,
)
from gallery_editor.save.verify import Comparison, compare, describe_order

logger = logging.getLogger(__name__)

SaveStatus = Literal[
    "saved", "partial", "failed", "cancelled", "conflicts", "auth_failed", "unreachable"
]


@dataclass(frozen=True)
class SaveRequest:
    """A save request: the user's target for one product and the snapshot it was edited from."""

    base_url: str
    product_id: str
    base: Product
    target: Sequence[TargetImage]
    resolutions: Mapping[tuple, Literal["mine", "theirs"]] = field(default_factory=dict)
    keep_mine_all: bool = False
    # False skips the conflict check: the user's values win wherever both sides changed.
    check_conflicts: bool = True


@dataclass(frozen=True)
class SaveProgress:
    """Progress of a save: responses received out of requests planned so far."""

    done: int
    total: int
    message: str


@dataclass(frozen=True)
class SaveReport:
    """The result of one save.

    ``patches_sent`` counts the PATCH requests sent (a retry of the same request is not
    counted again). ``failed`` maps an image id to the reason its change is still pending.
    ``dropped`` lists (id, name) of images that are gone from the server, whose changes
    were dropped. ``snapshot`` is the latest known server state.
    """

    status: SaveStatus
    merge: MergeResult | None
    patches_sent: int
    failed: dict[str, str]
    dropped: list[tuple[str, str | None]]
    snapshot: Product | None
    used_fallback: bool
    verified: bool
    summary: str
    messages: list[str]


@dataclass
class _Run:
    """Mutable state of one save while it runs."""

    request: SaveRequest
    cancel: threading.Event
    deadline_at: float
    progress: Callable[[SaveProgress], None] | None
    merge: MergeResult | None = None
    holder: SnapshotHolder | None = None
    target: list[TargetImage] = field(default_factory=list)
    sent: int = 0
    fields_saved: int = 0
    images_saved: set[str] = field(default_factory=set)
    done: int = 0
    total: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    dropped: list[tuple[str, str | None]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    auth_error: str | None = None
    stop_error: str | None = None
    used_fallback: bool = False
    verified: bool = False
    comparison: Comparison | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def snapshot(self) -> Product:
        assert self.holder is not None
        return self.holder.snapshot

    def note(self, message: str) -> None:
        logger.info("%s", message)
        self.messages.append(message)


class SaveEngine:
    """Saves a product's gallery with the fewest requests and never overwrites silently.

    Per-request retries follow ``retry``, or the client's own policy when it is None. The
    engine passes that policy to each call with a hook that lowers its concurrency by one
    on every 429.
    """

    def __init__(
        self,
        client: KelviqClient,
        *,
        concurrency: int = 4,
        journal: Journal | None = None,
        deadline: float = 300.0,
        max_passes: int = 5,
        retry: RetryPolicy | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}.")
        if max_passes < 1:
            raise ValueError(f"max_passes must be at least 1, got {max_passes}.")
        if deadline <= 0:
            raise ValueError(f"deadline must be a positive number of seconds, got {deadline}.")
        self._client = client
        self._concurrency = concurrency
        self._journal = journal
        self._deadline = deadline
        self._max_passes = max_passes
        self._retry = retry if retry is not None else client.retry_policy

    def save(
        self,
        request: SaveRequest,
        *,
        progress: Callable[[SaveProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> SaveReport:
        """Save `request` and return what happened; API errors become the report's status."""
        run = _Run(
            request=request,
            cancel=cancel if cancel is not None else threading.Event(),
            deadline_at=time.monotonic() + self._deadline,
            progress=progress,
        )
        logger.info("Saving product %s", request.product_id)
        early = self._fetch_and_merge(run)
        if early is not None:
            return early

        limit = ConcurrencyLimit(self._concurrency)
        self._send_passes(run, limit)
        if run.auth_error is None and not run.cancel.is_set() and run.stop_error is None:
            self._verify(run, limit)
        report = self._report(run)
        self._forget_sent_records(run, report)
        logger.info("Save of product %s ended: %s. %s", request.product_id, report.status, report.summary)
        return report

    # -- step 1: read and merge ------------------------------------------------------------

    def _fetch_and_merge(self, run: _Run) -> SaveReport | None:
        request = run.request
        try:
            theirs = self._get_product(request.product_id)
        except ApiError as error:
            return self._fetch_failed(run, error)

        own_writes = self._own_writes(request)
        merged = merge(
            request.base,
            request.target,
            theirs,
            own_writes=own_writes,
            resolutions=request.resolutions,
            keep_mine_all=request.keep_mine_all or not request.check_conflicts,
        )
        run.merge = merged
        run.holder = SnapshotHolder(theirs)
        run.target = list(merged.target)
        run.dropped.extend(merged.deleted)
        for image_id, name in merged.deleted:
            run.note(f"Image {_label(name, image_id)} was deleted on the server; its changes were dropped.")
        if merged.unresolved:
            count = len(merged.conflicts)
            summary = (
                f"Nothing was saved: {count} change{'s' if count != 1 else ''} conflict with "
                "changes made on the server meanwhile. Choose which version to keep, then save again."
            )
            return self._early_report(run, "conflicts", summary, theirs)
        return None

    def _fetch_failed(self, run: _Run, error: ApiError) -> SaveReport:
        product_id = run.request.product_id
        if isinstance(error, AuthenticationError):
            summary = f"Nothing was saved: the server refused the API key ({error.message})."
            return self._early_report(run, "auth_failed", summary, None)
        if isinstance(error, NetworkError):
            summary = f"Nothing was saved: the server could not be reached ({error.message})."
            return self._early_report(run, "unreachable", summary, None)
        if isinstance(error, NotFoundError):
            summary = f"Nothing was saved: product {product_id} was not found on the server."
            return self._early_report(run, "failed", summary, None)
        summary = f"Nothing was saved: reading product {product_id} failed ({error.message})."
        return self._early_report(run, "failed", summary, None)

    def _early_report(
        self, run: _Run, status: SaveStatus, summary: str, snapshot: Product | None
    ) -> SaveReport:
        logger.info("Save of product %s ended: %s. %s", run.request.product_id, status, summary)
        return SaveReport(
            status=status,
            merge=run.merge,
            patches_sent=0,
            failed={},
            dropped=list(run.dropped),
            snapshot=snapshot,
            used_fallback=False,
            verified=False,
            summary=summary,
            messages=list(run.messages),
        )

    def _own_writes(self, request: SaveRequest) -> dict[str, dict[str, object]]:
        if self._journal is None:
            return {}
        return self._journal.sent_values(request.base_url, request.product_id)

    # -- steps 2 and 3: passes ------------------------------------------------------------

    def _send_passes(self, run: _Run, limit: ConcurrencyLimit) -> None:
        for number in range(1, self._max_passes + 1):
            patches = self._plan(run)
            if not patches:
                return
            logger.info("Save pass %d: %d requests", number, len(patches))
            outcome = self._send(run, limit, patches, sequential=False)
            self._absorb(run, outcome)
            if outcome.not_found:
                self._handle_not_found(run, outcome)
            if run.auth_error or run.stop_error or run.cancel.is_set():
                return
            if not outcome.retryable and not outcome.not_found:
                # Every request got a final response, so the read-back decides whether more is needed.
                return
            if not outcome.acknowledged and not outcome.not_found:
                run.note("A save pass saved nothing, so the remaining changes stay pending.")
                return
            if time.monotonic() >= run.deadline_at:
                run.note(f"The save took longer than {self._deadline:g} s, so it stopped.")
                return

    def _plan(self, run: _Run) -> list[Patch]:
        patches = plan_patches(run.snapshot, run.target)
        # An image the server rejected keeps its change pending with the server's message.
        return [patch for patch in patches if patch.image_id not in run.rejected]

    def _send(
        self, run: _Run, limit: ConcurrencyLimit, patches: Sequence[Patch], *, sequential: bool
    ) -> PassOutcome:
        with run.lock:
            run.total += len(patches)
        context = PassContext(
            client=self._client,
            journal=self._journal,
            base_url=run.request.base_url,
            product_id=run.request.product_id,
            retry=self._request_retry(limit),
            limit=limit,
            cancel=run.cancel,
            deadline_at=run.deadline_at,
            on_response=lambda: self._report_progress(run),
        )
        sender = PassSender(context, run.holder, 1 if sequential else self._concurrency)  # type: ignore[arg-type]
        if sequential:
            return sender.send_sequentially(patches)
        return sender.send(patches)

    def _request_retry(self, limit: ConcurrencyLimit) -> RetryPolicy:
        original = self._retry.on_retry

        def on_retry(error: ApiError, attempt: int) -> None:
            if isinstance(error, RateLimitedError):
                limit.lower()
            if original is not None:
                original(error, attempt)

        return replace(self._retry, on_retry=on_retry)

    def _report_progress(self, run: _Run) -> None:
        with run.lock:
            run.done += 1
            done, total = run.done, run.total
        if run.progress is not None:
            run.progress(SaveProgress(done, total, f"Saving {done} of {total}"))

    def _absorb(self, run: _Run, outcome: PassOutcome) -> None:
        run.sent += outcome.sent
        run.fields_saved += outcome.fields_saved
        run.images_saved.update(outcome.acknowledged)
        for image_id in outcome.acknowledged:
            run.failed.pop(image_id, None)
        for image_id, message in outcome.retryable.items():
            run.failed[image_id] = message
        for image_id, message in outcome.rejected.items():
            run.failed[image_id] = message
            run.rejected.add(image_id)
            run.note(f"The server rejected the change of image {self._name_of(run, image_id)}: {message}")
        if outcome.auth_error is not None:
            run.auth_error = outcome.auth_error
            run.note(f"The server refused the API key, so saving stopped: {outcome.auth_error}")
        if outcome.journal_error is not None:
            run.stop_error = outcome.journal_error
            run.note(f"Saving stopped because the journal failed: {outcome.journal_error}")

    def _handle_not_found(self, run: _Run, outcome: PassOutcome) -> None:
        """Re-read the product after a 404: drop the changes of images that are gone."""
        try:
            fresh = self._get_product(run.request.product_id)
        except ApiError as error:
            for image_id, message in outcome.not_found.items():
                run.failed[image_id] = message
            run.note(f"Reading the product again after HTTP 404 failed: {error.message}")
            return
        fresh_ids = {image.id for image in fresh.images}
        for image_id in outcome.not_found:
            if image_id in fresh_ids:
                run.failed[image_id] = outcome.not_found[image_id]
                continue
            name = self._name_of(run, image_id)
            run.dropped.append((image_id, self._raw_name(run, image_id)))
            run.failed.pop(image_id, None)
            run.note(f"Image {name} was deleted on the server; its changes were dropped.")
        run.target = _align_target(run.target, fresh)
        run.holder.replace(fresh)  # type: ignore[union-attr]

    # -- step 4: read back ----------------------------------------------------------------

    def _verify(self, run: _Run, limit: ConcurrencyLimit) -> None:
        comparison = self._read_back(run)
        if comparison is None:
            return
        if comparison.only_order_differs and not run.failed:
            run.note(
                "The server shows a different order than intended, so every image gets "
                "its position 0..n-1 one request at a time."
            )
            run.used_fallback = True
            dense = dense_ordering_patches(run.snapshot, run.target)
            outcome = self._send(run, limit, dense, sequential=True)
            self._absorb(run, outcome)
            if run.auth_error or run.stop_error:
                return
            comparison = self._read_back(run)
            if comparison is None:
                return
        if comparison.order_differs and not comparison.missing and not comparison.extra:
            run.note(
                "The server's order still differs from the intended one: "
                + describe_order(run.snapshot, comparison.server_order)
            )

    def _read_back(self, run: _Run) -> Comparison | None:
        try:
            server = self._get_product(run.request.product_id)
        except ApiError as error:
            run.note(f"Reading the product back failed, so the result is not verified: {error.message}")
            return None
        run.holder.replace(server)  # type: ignore[union-attr]
        run.target = _align_target(run.target, server)
        comparison = compare(server, run.target)
        run.comparison = comparison
        run.verified = comparison.matches
        return comparison

    def _get_product(self, product_id: str) -> Product:
        return self._client.get_product(product_id, retry=self._retry)

    # -- the report -----------------------------------------------------------------------

    def _report(self, run: _Run) -> SaveReport:
        failed = dict(run.failed)
        if not run.verified:
            for patch in self._pending(run):
                failed.setdefault(patch.image_id, "not saved yet")
        status = self._status(run, failed)
        return SaveReport(
            status=status,
            merge=run.merge,
            patches_sent=run.sent,
            failed=failed,
            dropped=list(run.dropped),
            snapshot=run.snapshot,
            used_fallback=run.used_fallback,
            verified=run.verified,
            summary=self._summary(run, status, failed),
            messages=list(run.messages),
        )

    def _pending(self, run: _Run) -> list[Patch]:
        try:
            return plan_patches(run.snapshot, run.target)
        except ValueError as error:
            run.note(f"The remaining changes could not be planned: {error}")
            return []

    def _status(self, run: _Run, failed: Mapping[str, str]) -> SaveStatus:
        if run.auth_error is not None:
            return "auth_failed"
        if run.cancel.is_set() and (failed or not run.verified):
            return "cancelled"
        if run.verified and not failed:
            return "saved"
        if run.sent > 0 and run.fields_saved > 0:
            return "partial"
        return "failed"

    def _summary(self, run: _Run, status: SaveStatus, failed: Mapping[str, str]) -> str:
        # Count images, as the review panel does. A reorder also renumbers images whose
        # place the user did not change, so this count can exceed the number of images moved.
        saved = (
            f"Updated {count_of(len(run.images_saved), 'image')} "
            f"with {count_of(run.sent, 'request')}"
        )
        if status == "saved":
            if run.sent == 0:
                return "Nothing to save; the server already shows the intended gallery."
            fallback = " after resending every position one at a time" if run.used_fallback else ""
            return f"{saved}{fallback}; the server shows the intended gallery."
        if status == "auth_failed":
            return f"{saved}, then the server refused the API key; {count_of(len(failed), 'image')} still pending."
        if status == "cancelled":
            return f"{saved} before the save was cancelled; {count_of(len(failed), 'image')} still pending."
        if run.comparison is not None and not run.verified:
            pending = f"; {count_of(len(run.failed), 'image')} still pending" if run.failed else ""
            return f"{saved}{pending}, but the server still shows a different gallery than intended."
        if not run.verified and run.comparison is None:
            return f"{saved}; {count_of(len(failed), 'image')} still pending, and the result could not be read back."
        return f"{saved}; {count_of(len(failed), 'image')} still pending."

    def _forget_sent_records(self, run: _Run, report: SaveReport) -> None:
        """Clear the journal's sent records once the server is known to match the target."""
        if self._journal is None or report.status != "saved":
            return
        try:
            self._journal.clear_sent(run.request.base_url, run.request.product_id)
        except JournalError as error:
            logger.warning("Could not clear the sent records of product %s: %s", run.request.product_id, error)

    def _name_of(self, run: _Run, image_id: str) -> str:
        return _label(self._raw_name(run, image_id), image_id)

    def _raw_name(self, run: _Run, image_id: str) -> str | None:
        for wanted in run.target:
            if wanted.id == image_id:
                return wanted.name
        image = run.request.base.image_by_id(image_id)
        return image.name if image is not None else None


def _align_target(target: Sequence[TargetImage], server: Product) -> list[TargetImage]:
    """Drop images the server no longer has and append new ones with the server's values."""
    server_ids = {image.id for image in server.images}
    aligned = [wanted for wanted in target if wanted.id in server_ids]
    known = {wanted.id for wanted in aligned}
    for image in server.images_in_order():
        if image.id not in known:
            aligned.append(TargetImage(image.id, image.name, image.thumbnail, image.enabled))
    return aligned


def _label(name: str | None, image_id: str) -> str:
    return f"'{name}' ({image_id})" if name is not None else image_id


def count_of(number: int, noun: str) -> str:
    """Return e.g. "1 image" or "3 images"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
