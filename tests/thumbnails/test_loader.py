"""Tests of ThumbnailLoader with pytest-qt against a loopback media server and real workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot
from thumbnail_support import MediaServer, Resource, make_jpeg, read_manifest

from gallery_editor.thumbnails.loader import ThumbnailLoader

LoaderFactory = Callable[..., ThumbnailLoader]


@pytest.fixture
def make_loader(tmp_path: Path) -> Iterator[LoaderFactory]:
    loaders: list[ThumbnailLoader] = []

    def factory(cache_dir: Path | None = tmp_path / "cache", **options: object) -> ThumbnailLoader:
        options.setdefault("workers", 1)
        options.setdefault("edge", 128)
        loader = ThumbnailLoader(cache_dir, **options)  # type: ignore[arg-type]
        loaders.append(loader)
        return loader

    yield factory
    for loader in loaders:
        loader.shutdown()


class Recorder:
    """Collects the loader's signals in arrival order."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        self.ready: list[tuple[str, QImage]] = []
        self.failed: list[tuple[str, str]] = []
        self.counts: list[int] = []
        loader.thumbnail_ready.connect(lambda url, image: self.ready.append((url, image)))
        loader.thumbnail_failed.connect(lambda url, reason: self.failed.append((url, reason)))
        loader.loading_changed.connect(self.counts.append)

    def ready_urls(self) -> list[str]:
        return [url for url, _ in self.ready]

    def done(self) -> int:
        return len(self.ready) + len(self.failed)


def test_loader_delivers_thumbnail(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(400, 200), etag='"1"'))
    loader = make_loader()
    recorder = Recorder(loader)
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=20_000) as blocker:
        loader.request(url)
    received_url, image = blocker.args
    assert received_url == url
    assert (image.width(), image.height()) == (128, 64)
    assert image.format() == QImage.Format.Format_RGBA8888
    qtbot.waitUntil(lambda: recorder.counts[-1:] == [0], timeout=5_000)
    assert recorder.counts[0] == 1
    cached = loader.cached(url)
    assert cached is not None
    assert cached.size() == image.size()


def test_loader_reports_failures(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    page = media_server.add("/page.jpg", Resource(b"<html>gone</html>"))
    missing = media_server.url("/missing.jpg")
    loader = make_loader()
    recorder = Recorder(loader)
    loader.request(page)
    loader.request(missing)
    qtbot.waitUntil(lambda: len(recorder.failed) == 2, timeout=20_000)
    assert dict(recorder.failed) == {page: "not an image", missing: "HTTP 404"}
    assert recorder.ready == []


def test_loader_merges_duplicates(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    hold = threading.Event()
    url = media_server.add("/a.jpg", Resource(make_jpeg(200, 200), hold=hold))
    loader = make_loader()
    recorder = Recorder(loader)
    for priority in (0, 3, 1):
        loader.request(url, priority)
    hold.set()
    qtbot.waitUntil(lambda: recorder.done() >= 1, timeout=20_000)
    qtbot.waitUntil(lambda: recorder.counts[-1:] == [0], timeout=5_000)
    assert recorder.ready_urls() == [url]
    assert len(media_server.requests_for("/a.jpg")) == 1


def occupy_network(media_server: MediaServer, loader: ThumbnailLoader, qtbot: QtBot) -> list[threading.Event]:
    """Hold every network thread of ``loader`` until the returned events are set.

    Each worker process is held in a download and one more job waits in the pool,
    so further requests stay in the loader's own queue.
    """
    workers = loader._pool.worker_count
    holds = [threading.Event() for _ in range(workers + 1)]
    for index, hold in enumerate(holds):
        loader.request(media_server.add(f"/blocker-{index}.jpg", Resource(make_jpeg(20, 20), hold=hold)))
    qtbot.waitUntil(lambda: len(media_server.requests) == workers, timeout=10_000)
    qtbot.waitUntil(lambda: len(loader._pool._queue) == 1, timeout=10_000)
    return holds


def test_loader_runs_visible_then_priority(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    # Without a disk cache every request goes straight to the network queue.
    loader = make_loader(cache_dir=None, workers=1)
    recorder = Recorder(loader)
    first_hold, second_hold = occupy_network(media_server, loader, qtbot)
    low = media_server.add("/low.jpg", Resource(make_jpeg(20, 20)))
    high = media_server.add("/high.jpg", Resource(make_jpeg(20, 20)))
    visible = media_server.add("/visible.jpg", Resource(make_jpeg(20, 20)))
    loader.request(low, priority=0)
    loader.request(high, priority=5)
    loader.request(visible, priority=-3)
    loader.set_visible([visible])
    first_hold.set()
    # The second blocker runs now, and the freed network thread queues the best request behind it.
    qtbot.waitUntil(lambda: len(media_server.requests) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: len(loader._pool._queue) == 1, timeout=10_000)
    second_hold.set()
    qtbot.waitUntil(lambda: recorder.done() == 5, timeout=20_000)
    assert media_server.request_paths()[2:] == ["/visible.jpg", "/high.jpg", "/low.jpg"]


def test_loader_cancel_drops_queued_work(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    loader = make_loader()
    recorder = Recorder(loader)
    holds = occupy_network(media_server, loader, qtbot)
    queued = media_server.add("/queued.jpg", Resource(make_jpeg(20, 20)))
    loader.request(queued)
    loader.cancel_pending()
    assert recorder.counts[-1] == 0
    for hold in holds:
        hold.set()
    after = media_server.add("/after.jpg", Resource(make_jpeg(20, 20)))
    loader.request(after)
    qtbot.waitUntil(lambda: recorder.ready_urls() == [after], timeout=20_000)
    assert "/queued.jpg" not in media_server.request_paths()
    assert recorder.failed == []


def test_loader_shows_disk_cache_then_revalidates(
    qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory, tmp_path: Path
) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(300, 300), etag='"1"'))
    first = make_loader()
    with qtbot.waitSignal(first.thumbnail_ready, timeout=20_000):
        first.request(url)
    first.shutdown()

    second = make_loader()
    recorder = Recorder(second)
    second.request(url)
    qtbot.waitUntil(lambda: len(media_server.requests_for("/a.jpg")) == 2, timeout=20_000)
    qtbot.waitUntil(lambda: len(recorder.ready) == 1, timeout=20_000)
    revalidation = media_server.requests_for("/a.jpg")[1]
    assert revalidation.headers.get("If-None-Match") == '"1"'
    # The 304 must not emit a second time; a later request is answered from memory.
    second.request(url)
    qtbot.waitUntil(lambda: len(recorder.ready) == 2, timeout=5_000)
    assert len(media_server.requests_for("/a.jpg")) == 2


def test_loader_reemits_changed_image(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(300, 300), etag='"1"'))
    first = make_loader()
    with qtbot.waitSignal(first.thumbnail_ready, timeout=20_000):
        first.request(url)
    first.shutdown()

    media_server.add("/a.jpg", Resource(make_jpeg(300, 150), etag='"2"'))
    second = make_loader()
    recorder = Recorder(second)
    second.request(url)
    qtbot.waitUntil(lambda: len(recorder.ready) == 2, timeout=20_000)
    sizes = [(image.width(), image.height()) for _, image in recorder.ready]
    assert sizes == [(128, 128), (128, 64)]


def test_loader_remembers_decode_failures(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    url = media_server.add("/broken.jpg", Resource(b"GIF89a broken", etag='"1"'))
    first = make_loader()
    with qtbot.waitSignal(first.thumbnail_failed, timeout=20_000):
        first.request(url)
    first.shutdown()

    second = make_loader()
    with qtbot.waitSignal(second.thumbnail_failed, timeout=20_000) as blocker:
        second.request(url)
    assert blocker.args == [url, "not an image"]
    qtbot.waitUntil(lambda: len(media_server.requests_for("/broken.jpg")) == 2, timeout=20_000)
    assert media_server.requests_for("/broken.jpg")[1].headers.get("If-None-Match") == '"1"'


def test_loader_reports_decode_timeout(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    # A 12-megapixel JPEG takes far longer than 1 ms to decode on any machine.
    slow = media_server.add("/slow.jpg", Resource(make_jpeg(4000, 3000, subsampling=0, quality=100)))
    loader = make_loader(decode_timeout=0.001, workers=1)
    recorder = Recorder(loader)
    loader.request(slow)
    qtbot.waitUntil(lambda: len(recorder.failed) == 1, timeout=20_000)
    assert recorder.failed == [(slow, "timed out")]


def test_loader_remembers_decode_timeout(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    slow = media_server.add("/slow.jpg", Resource(make_jpeg(4000, 3000, subsampling=0, quality=100), etag='"s"'))
    first = make_loader(decode_timeout=0.001, workers=1)
    with qtbot.waitSignal(first.thumbnail_failed, timeout=20_000):
        first.request(slow)
    first.shutdown()

    # The worker was killed mid-decode, but it had sent the ETag first, so the failure was stored.
    second = make_loader()
    with qtbot.waitSignal(second.thumbnail_failed, timeout=20_000) as blocker:
        second.request(slow)
    assert blocker.args == [slow, "timed out"]
    qtbot.waitUntil(lambda: len(media_server.requests_for("/slow.jpg")) == 2, timeout=20_000)
    assert media_server.requests_for("/slow.jpg")[1].headers.get("If-None-Match") == '"s"'


def test_loader_applies_byte_limit(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    big = media_server.add("/big.jpg", Resource(make_jpeg(300, 300)))
    loader = make_loader(max_bytes=1000)
    with qtbot.waitSignal(loader.thumbnail_failed, timeout=20_000) as blocker:
        loader.request(big)
    assert blocker.args == [big, "larger than 1000 bytes"]


def test_loader_works_without_disk_cache(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    url = media_server.add("/a.jpg", Resource(make_jpeg(100, 50)))
    loader = make_loader(cache_dir=None)
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=20_000) as blocker:
        loader.request(url)
    assert blocker.args[1].width() == 100


def test_loader_memory_cache_is_bounded(qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory) -> None:
    urls = [media_server.add(f"/{index}.jpg", Resource(make_jpeg(128, 128))) for index in range(6)]
    one_image = 128 * 128 * 4
    loader = make_loader(memory_cache_bytes=3 * one_image)
    recorder = Recorder(loader)
    for url in urls:
        loader.request(url)
    qtbot.waitUntil(lambda: len(recorder.ready) == 6, timeout=30_000)
    assert sum(loader.cached(url) is not None for url in urls) == 3
    assert loader._memory.total_bytes <= 3 * one_image


def test_loader_handles_whole_corpus(
    qtbot: QtBot, media_server: MediaServer, make_loader: LoaderFactory, corpus_dir: Path
) -> None:
    urls = []
    for row in read_manifest(corpus_dir):
        urls.append(media_server.add(f"/{row.path}", Resource((corpus_dir / row.path).read_bytes())))
    loader = make_loader(workers=2, edge=256)
    recorder = Recorder(loader)
    for url in urls:
        loader.request(url)
    qtbot.waitUntil(lambda: recorder.done() == len(urls), timeout=110_000)
    outcomes = {url for url, _ in recorder.ready} | {url for url, _ in recorder.failed}
    assert outcomes == set(urls)
    assert all(reason for _, reason in recorder.failed)
    assert all(max(image.width(), image.height()) <= 256 for _, image in recorder.ready)
