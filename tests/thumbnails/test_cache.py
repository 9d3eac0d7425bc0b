"""Tests of ThumbnailDiskCache: hits, LRU eviction, corrupt entries, crash safety, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gallery_editor.thumbnails.cache import (
    StoredValidators,
    ThumbnailDiskCache,
    make_validator,
)

URL = "http://127.0.0.1:9/images/a.jpg"
RGBA_2X2 = bytes(range(16))


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ThumbnailDiskCache]:
    instance = ThumbnailDiskCache(tmp_path / "cache")
    yield instance
    instance.close()


def entry_files(folder: Path) -> list[Path]:
    return sorted((folder / "thumbnails").glob("*.rgba"))


def test_cache_returns_stored_thumbnail(cache: ThumbnailDiskCache) -> None:
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    hit = cache.get(URL, "etag:v1", 256)
    assert hit is not None
    assert (hit.width, hit.height, hit.rgba) == (2, 2, RGBA_2X2)


def test_cache_misses_other_key_parts(cache: ThumbnailDiskCache) -> None:
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    assert cache.get(URL, "etag:v2", 256) is None
    assert cache.get(URL, "etag:v1", 512) is None
    assert cache.get(URL + "?x", "etag:v1", 256) is None


def test_cache_survives_reopen(tmp_path: Path) -> None:
    first = ThumbnailDiskCache(tmp_path)
    first.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    first.close()
    second = ThumbnailDiskCache(tmp_path)
    hit = second.get(URL, "etag:v1", 256)
    second.close()
    assert hit is not None
    assert hit.rgba == RGBA_2X2


def test_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    entry_size = 32 + 100 * 100 * 4
    cache = ThumbnailDiskCache(tmp_path, max_bytes=3 * entry_size)
    pixels = b"\x01" * (100 * 100 * 4)
    for name in ("a", "b", "c"):
        cache.put(f"{URL}/{name}", "etag:1", 64, 100, 100, pixels)
        time.sleep(0.01)
    assert cache.get(f"{URL}/a", "etag:1", 64) is not None  # a is now the most recent
    time.sleep(0.01)
    cache.put(f"{URL}/d", "etag:1", 64, 100, 100, pixels)
    remaining = {name for name in "abcd" if cache.get(f"{URL}/{name}", "etag:1", 64) is not None}
    assert remaining == {"a", "c", "d"}
    assert cache.total_bytes <= 3 * entry_size
    assert len(entry_files(tmp_path)) == 3
    cache.close()


def test_cache_removes_corrupt_entry(tmp_path: Path, cache: ThumbnailDiskCache) -> None:
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    (path,) = entry_files(tmp_path / "cache")
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))
    assert cache.get(URL, "etag:v1", 256) is None
    assert not path.exists()
    assert cache.total_bytes == 0
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    rebuilt = cache.get(URL, "etag:v1", 256)
    assert rebuilt is not None
    assert rebuilt.rgba == RGBA_2X2


def test_cache_ignores_truncated_and_missing_files(tmp_path: Path, cache: ThumbnailDiskCache) -> None:
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    cache.put(URL, "etag:v2", 256, 2, 2, RGBA_2X2)
    first, second = entry_files(tmp_path / "cache")
    first.write_bytes(first.read_bytes()[:20])
    second.unlink()
    assert cache.get(URL, "etag:v1", 256) is None
    assert cache.get(URL, "etag:v2", 256) is None
    assert cache.total_bytes == 0


def test_cache_rejects_wrong_buffer_size(cache: ThumbnailDiskCache) -> None:
    with pytest.raises(ValueError, match="needs 16"):
        cache.put(URL, "etag:v1", 256, 2, 2, b"\x00" * 15)


def test_cache_removes_old_temporary_files(tmp_path: Path) -> None:
    ThumbnailDiskCache(tmp_path).close()
    leftover = tmp_path / "thumbnails" / "tmpabc.tmp"
    leftover.write_bytes(b"half written")
    an_hour_ago = time.time() - 3600
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    ThumbnailDiskCache(tmp_path).close()
    assert not leftover.exists()


_WRITER = """
import sys
from pathlib import Path
from gallery_editor.thumbnails.cache import ThumbnailDiskCache
cache = ThumbnailDiskCache(Path(sys.argv[1]))
print("ready", flush=True)
index = 0
while True:
    pixels = bytes([index % 251]) * (256 * 256 * 4)
    cache.put(f"http://127.0.0.1/{index % 40}.jpg", "etag:1", 256, 256, 256, pixels)
    index += 1
"""


def test_cache_survives_killed_writer(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.5)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        if writer.stdout is not None:
            writer.stdout.close()
    cache = ThumbnailDiskCache(tmp_path)
    found = 0
    for index in range(40):
        hit = cache.get(f"http://127.0.0.1/{index}.jpg", "etag:1", 256)
        if hit is None:
            continue
        found += 1
        assert len(set(hit.rgba)) == 1
    cache.close()
    assert found > 0


def test_cache_remembers_failures(cache: ThumbnailDiskCache) -> None:
    assert cache.get_failure(URL, "etag:v1") is None
    cache.put_failure(URL, "etag:v1", "not an image")
    assert cache.get_failure(URL, "etag:v1") == "not an image"
    assert cache.get_failure(URL, "etag:v2") is None


def test_cache_drops_other_versions(cache: ThumbnailDiskCache) -> None:
    cache.put(URL, "etag:v1", 256, 2, 2, RGBA_2X2)
    cache.put_failure(URL, "etag:v0", "truncated file")
    cache.put(URL, "etag:v2", 256, 2, 2, RGBA_2X2)
    cache.remove_other_versions(URL, "etag:v2")
    assert cache.get(URL, "etag:v1", 256) is None
    assert cache.get_failure(URL, "etag:v0") is None
    assert cache.get(URL, "etag:v2", 256) is not None


def test_cache_stores_validators(cache: ThumbnailDiskCache) -> None:
    assert cache.get_validators(URL) is None
    stored = StoredValidators('"abc"', "Wed, 01 May 2024 10:00:00 GMT", 'etag:"abc"')
    cache.put_validators(URL, stored)
    assert cache.get_validators(URL) == stored


def test_validator_prefers_etag_then_date_then_hash() -> None:
    assert make_validator('"abc"', "Wed", b"x") == 'etag:"abc"'
    assert make_validator(None, "Wed", b"x") == "last-modified:Wed"
    assert make_validator(None, None, b"x").startswith("sha256:")
    assert make_validator(None, None, b"x") != make_validator(None, None, b"y")
