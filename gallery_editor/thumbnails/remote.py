"""Download an image and decode its thumbnail inside a decode worker process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gallery_editor.thumbnails.cache import make_validator
from gallery_editor.thumbnails.decode import (
    DEFAULT_MAX_PIXELS,
    DecodedThumbnail,
    DecodeError,
    decode_thumbnail,
)
from gallery_editor.thumbnails.download import FetchError, ImageFetcher, Validators
from gallery_editor.thumbnails.worker import report_progress

logger = logging.getLogger(__name__)

# The main process then receives only the small RGBA thumbnail through the
# worker's pipe, instead of reading megabytes of HTTP body in Python threads
# that compete with the GUI thread for the GIL and pickling them to the worker.


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Size and time limits of one download, in bytes and seconds (see ImageFetcher)."""

    max_bytes: int = 50 * 2**20
    connect_timeout: float = 5
    read_timeout: float = 10
    deadline: float = 30

    def worst_case_seconds(self) -> float:
        """Return the longest a download can take before ImageFetcher gives up on it."""
        # Connecting and waiting for the headers are bounded by their own timeouts
        # before the deadline's watchdog starts, so all three are added.
        return self.connect_timeout + self.read_timeout + self.deadline


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """The parts of a 200 or 304 response that the disk cache keeps.

    ``validator`` is None for a 304, which carries no body to derive one from.
    """

    status: int
    etag: str | None
    last_modified: str | None
    validator: str | None


@dataclass(frozen=True, slots=True)
class RemoteThumbnail:
    """The outcome of fetch_and_decode().

    Exactly one of ``fetch_error``, ``decode_error`` and ``thumbnail`` is set,
    or none of them when the image is unchanged: a 304, or a body whose
    validator equals the known one. ``response`` is None only after a fetch error.
    """

    response: ResponseFacts | None
    thumbnail: DecodedThumbnail | None = None
    fetch_error: str | None = None
    decode_error: str | None = None

    @property
    def unchanged(self) -> bool:
        return self.response is not None and self.thumbnail is None and self.decode_error is None


# One client per worker process and set of limits; a worker runs one job at a time.
_fetchers: dict[FetchLimits, ImageFetcher] = {}


def fetch_and_decode(
    url: str,
    conditions: Validators | None,
    known_validator: str | None,
    edge: int,
    limits: FetchLimits,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> RemoteThumbnail:
    """Download ``url`` (conditionally when ``conditions`` are given) and decode a thumbnail of it.

    Runs in a DecodePool worker: it calls report_progress() with the ResponseFacts
    just before decoding, so the pool's decode time limit covers the decode alone.
    """
    try:
        result = _fetcher_for(limits).fetch(url, conditions)
    except FetchError as error:
        return RemoteThumbnail(None, fetch_error=error.reason)
    if result.status == 304:
        return RemoteThumbnail(ResponseFacts(304, result.etag, result.last_modified, None))
    validator = make_validator(result.etag, result.last_modified, result.body)
    facts = ResponseFacts(result.status, result.etag, result.last_modified, validator)
    if validator == known_validator:
        return RemoteThumbnail(facts)
    report_progress(facts)
    try:
        return RemoteThumbnail(facts, thumbnail=decode_thumbnail(result.body or b"", edge, max_pixels))
    except DecodeError as error:
        return RemoteThumbnail(facts, decode_error=error.reason)


def _fetcher_for(limits: FetchLimits) -> ImageFetcher:
    fetcher = _fetchers.get(limits)
    if fetcher is None:
        fetcher = ImageFetcher(
            max_bytes=limits.max_bytes,
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            deadline=limits.deadline,
            max_connections=2,
        )
        _fetchers[limits] = fetcher
    return fetcher
