"""Every real file of the shared corpus gives a thumbnail or a reason, through the killable worker."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from thumbnail_support import ManifestRow, read_manifest

from gallery_editor.thumbnails.decode import DEFAULT_MAX_PIXELS, DecodedThumbnail, DecodeError
from gallery_editor.thumbnails.worker import DecodePool

EDGE = 256

# Files that Pillow opens but that are over the app's own pixel cap, so they must
# fail with "too large". None of the corpus files is, at a 64-megapixel cap.
OVER_PIXEL_CAP: frozenset[str] = frozenset()

# Reasons a failing file may give; anything else means a new, unreviewed message.
KNOWN_REASONS = ("not an image", "truncated file", "corrupt data", "unsupported image variant", "timed out")


@pytest.fixture(scope="module")
def corpus_results(corpus_dir: Path) -> Iterator[dict[str, DecodedThumbnail | str]]:
    rows = read_manifest(corpus_dir)
    pool = DecodePool(timeout=10)
    try:
        futures: dict[str, Future[DecodedThumbnail]] = {
            row.path: pool.submit_decode((corpus_dir / row.path).read_bytes(), EDGE) for row in rows
        }
        results: dict[str, DecodedThumbnail | str] = {}
        for path, future in futures.items():
            try:
                results[path] = future.result(timeout=120)
            except DecodeError as error:
                results[path] = error.reason
        yield results
    finally:
        pool.shutdown()


def expected_size(row: ManifestRow) -> tuple[int, int]:
    assert row.oriented_width is not None and row.oriented_height is not None
    width, height = row.oriented_width, row.oriented_height
    scale = min(1.0, EDGE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def test_corpus_every_file_has_an_outcome(corpus_dir: Path, corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    rows = read_manifest(corpus_dir)
    assert len(rows) > 100
    assert set(corpus_results) == {row.path for row in rows}


def test_corpus_openable_files_give_thumbnails(corpus_dir: Path, corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    problems: list[str] = []
    for row in read_manifest(corpus_dir):
        if row.opens != "yes" or row.path in OVER_PIXEL_CAP:
            continue
        result = corpus_results[row.path]
        if isinstance(result, str):
            problems.append(f"{row.path}: failed with {result!r}")
            continue
        want_width, want_height = expected_size(row)
        # draft() and rounding move each side by at most one pixel.
        if abs(result.width - want_width) > 1 or abs(result.height - want_height) > 1:
            problems.append(f"{row.path}: {result.width}x{result.height}, expected {want_width}x{want_height}")
        if len(result.rgba) != result.width * result.height * 4:
            problems.append(f"{row.path}: RGBA buffer has {len(result.rgba)} bytes")
    assert problems == []


def test_corpus_failing_files_give_reasons(corpus_dir: Path, corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    problems: list[str] = []
    for row in read_manifest(corpus_dir):
        if row.opens == "yes" and row.path not in OVER_PIXEL_CAP:
            continue
        result = corpus_results[row.path]
        if not isinstance(result, str):
            problems.append(f"{row.path}: gave a thumbnail but Pillow reports {row.opens}")
        elif not (result in KNOWN_REASONS or result.startswith("too large: ")):
            problems.append(f"{row.path}: unexpected reason {result!r}")
    assert problems == []


def test_corpus_bombs_are_too_large(corpus_dir: Path, corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    bombs = [
        row.path
        for row in read_manifest(corpus_dir)
        if "DecompressionBombError" in row.opens or "bomb-warning" in row.path
    ]
    assert len(bombs) >= 3
    for path in bombs:
        result = corpus_results[path]
        assert isinstance(result, str), path
        assert result.startswith("too large: "), (path, result)
    assert corpus_results["images/sharp-bomb-jpeg-280mpx-giant-image.jpg"] == "too large: 20000x14000 pixels"


def test_corpus_pixel_cap_list_is_complete(corpus_dir: Path) -> None:
    over_cap = {
        row.path
        for row in read_manifest(corpus_dir)
        if row.opens == "yes" and (row.width or 0) * (row.height or 0) > DEFAULT_MAX_PIXELS
    }
    assert over_cap == OVER_PIXEL_CAP


def pixel(thumbnail: DecodedThumbnail, x: int, y: int) -> tuple[int, ...]:
    offset = (y * thumbnail.width + x) * 4
    return tuple(thumbnail.rgba[offset : offset + 4])


def test_corpus_adobe_cmyk_colours(corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    # Pillow's own test of this file: the top-left corner is red (no cyan, full
    # magenta and yellow, no black) and the bottom-right corner is near black.
    thumbnail = corpus_results["images/pillow-cmyk-adobe-inverted-pil_sample_cmyk.jpg"]
    assert isinstance(thumbnail, DecodedThumbnail)
    red, green, blue, _ = pixel(thumbnail, 0, 0)
    assert red > 180
    assert green < 80
    assert blue < 80
    corner = pixel(thumbnail, thumbnail.width - 1, thumbnail.height - 1)
    assert max(corner[:3]) < 60


def test_corpus_orientation_examples_are_upright(corpus_results: dict[str, DecodedThumbnail | str]) -> None:
    for path, result in corpus_results.items():
        if "recurser-exif-orient" not in path:
            continue
        assert isinstance(result, DecodedThumbnail), path
        landscape = "Landscape" in path
        assert (result.width > result.height) == landscape, (path, result.width, result.height)
