"""One pass of image PATCH requests, sent concurrently with a limit that drops after a 429."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from gallery_editor.api import (
    ApiError,
    AuthenticationError,
    KelviqClient,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from gallery_editor.domain.models import Product, ProductImage
from gallery_editor.domain.planner import Patch
from gallery_editor.journal import Journal, JournalError

logger = logging.getLogger(__name__)


class ConcurrencyLimit:
    """A counting limit on requests in flight whose maximum can be lowered while in use."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"The concurrency must be at least 1, got {limit}.")
        self._limit = limit
        self._in_flight = 0
        self._condition = threading.Condition()

    @property
    def limit(self) -> int:
        with self._condition:
            return self._limit

    def acquire(self) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1

    def release(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def lower(self) -> None:
        """Allow one request fewer in flight, down to one."""
        with self._condition:
            if self._limit > 1:
                self._limit -= 1
                logger.info("Lowered the save concurrency to %d after HTTP 429", self._limit)


@dataclass
class PassOutcome:
    """The outcome of each PATCH of one pass, by image id."""

    acknowledged: list[str] = field(default_factory=list)
    retryable: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    not_found: dict[str, str] = field(default_factory=dict)
    unsent: list[str] = field(default_factory=list)
    sent: int = 0
    fields_saved: int = 0
    auth_error: str | None = None
    journal_error: str | None = None

    @property
    def stopped(self) -> bool:
        """Whether an error stopped all further writes of this save."""
        return self.auth_error is not None or self.journal_error is not None


@dataclass(frozen=True)
class PassContext:
    """The client, journal and stop conditions of one pass."""

    client: KelviqClient
    journal: Journal | None
    base_url: str
    product_id: str
    retry: RetryPolicy
    limit: ConcurrencyLimit
    cancel: threading.Event
    deadline_at: float
    on_response: Callable[[], None]


class SnapshotHolder:
    """The latest known server state, updated after each acknowledged PATCH."""

    def __init__(self, snapshot: Product) -> None:
        self._snapshot = snapshot
        self.lock = threading.Lock()

    @property
    def snapshot(self) -> Product:
        with self.lock:
            return self._snapshot

    def replace(self, snapshot: Product) -> None:
        with self.lock:
            self._snapshot = snapshot

    def apply_response(self, image: ProductImage, body: dict[str, object]) -> Product:
        """Put the server's copy of one image into the snapshot; the caller must have acquired ``lock``."""
        self._snapshot = apply_image(self._snapshot, image, body)
        return self._snapshot


def apply_image(snapshot: Product, image: ProductImage, body: dict[str, object]) -> Product:
    """Return `snapshot` with `image` as the server returned it after a PATCH with `body`.

    After ``thumbnail: true`` the server clears the star of the other images, so the
    snapshot does the same.
    """
    clears_others = body.get("thumbnail") is True
    images = []
    for current in snapshot.images:
        if current.id == image.id:
            images.append(image)
        elif clears_others and current.thumbnail:
            images.append(replace(current, thumbnail=False))
        else:
            images.append(current)
    return snapshot.with_images(tuple(images))


class PassSender:
    """Sends the PATCH requests of one pass and records each in the journal."""

    def __init__(self, context: PassContext, holder: SnapshotHolder, concurrency: int) -> None:
        self._context = context
        self._holder = holder
        self._concurrency = concurrency
        self._outcome = PassOutcome()
        self._outcome_lock = threading.Lock()

    def send(self, patches: Sequence[Patch]) -> PassOutcome:
        """Send `patches`, at most the current limit at once; return the outcome."""
        with ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix="save-patch"
        ) as executor:
            for index, patch in enumerate(patches):
                self._context.limit.acquire()
                # Checked after waiting for a free slot, since a response may have stopped the save meanwhile.
                reason = self._stop_reason()
                if reason is not None:
                    self._context.limit.release()
                    logger.info("Stopped sending before %d requests: %s", len(patches) - index, reason)
                    self._outcome.unsent.extend(p.image_id for p in patches[index:])
                    break
                executor.submit(self._send_one, patch)
        return self._outcome

    def send_sequentially(self, patches: Sequence[Patch]) -> PassOutcome:
        """Send `patches` one at a time, in order, and stop at the first failure."""
        for index, patch in enumerate(patches):
            if self._stop_reason() is not None or self._has_failure():
                self._outcome.unsent.extend(p.image_id for p in patches[index:])
                break
            self._context.limit.acquire()
            self._send_one(patch)
        return self._outcome

    # -- one request ---------------------------------------------------------------------

    def _send_one(self, patch: Patch) -> None:
        try:
            self._send_and_record(patch)
        finally:
            self._context.limit.release()
            self._context.on_response()

    def _send_and_record(self, patch: Patch) -> None:
        context = self._context
        try:
            sent_id = self._record_sent(patch)
        except JournalError as error:
            self._fail_journal(patch, error)
            return
        with self._outcome_lock:
            self._outcome.sent += 1

        try:
            image = self._update(patch)
        except ApiError as error:
            self._classify(patch, error)
            return

        with self._holder.lock:
            snapshot = self._holder.apply_response(image, patch.body)
            try:
                if context.journal is not None and sent_id is not None:
                    context.journal.record_acknowledged(sent_id, snapshot)
            except JournalError as error:
                self._fail_journal(patch, error)
        with self._outcome_lock:
            self._outcome.acknowledged.append(patch.image_id)
            self._outcome.fields_saved += len(patch.body)

    def _record_sent(self, patch: Patch) -> int | None:
        context = self._context
        if context.journal is None:
            return None
        return context.journal.record_sent(
            context.base_url, context.product_id, patch.image_id, dict(patch.body)
        )

    def _update(self, patch: Patch) -> ProductImage:
        context = self._context

        return context.client.update_image(
            context.product_id, patch.image_id, retry=context.retry, **patch.body
        )

    def _classify(self, patch: Patch, error: ApiError) -> None:
        image_id = patch.image_id
        logger.warning("PATCH of image %s failed: %s", image_id, error)
        with self._outcome_lock:
            if isinstance(error, AuthenticationError):
                self._outcome.auth_error = error.message
                self._outcome.unsent.append(image_id)
            elif isinstance(error, ValidationError):
                self._outcome.rejected[image_id] = error.message
            elif isinstance(error, NotFoundError):
                self._outcome.not_found[image_id] = error.message
            else:
                self._outcome.retryable[image_id] = error.message

    def _fail_journal(self, patch: Patch, error: JournalError) -> None:
        logger.error("Stopped saving: the journal failed for image %s: %s", patch.image_id, error)
        with self._outcome_lock:
            self._outcome.journal_error = str(error)
            self._outcome.unsent.append(patch.image_id)

    def _stop_reason(self) -> str | None:
        context = self._context
        if context.cancel.is_set():
            return "the save was cancelled"
        if self._outcome.stopped:
            return "an earlier error stopped all writes"
        if time.monotonic() >= context.deadline_at:
            return "the save deadline passed"
        return None

    def _has_failure(self) -> bool:
        outcome = self._outcome
        return bool(outcome.retryable or outcome.rejected or outcome.not_found)
