"""Media port: generated pictures, conditional requests, image folders, big photos and reuse."""

from __future__ import annotations

import email.utils
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageOps

from gallery_editor.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)

MEDIA_TIMEOUT = httpx.Timeout(30.0, connect=2.0)


def _media_url(server: SandboxServer, image: dict[str, object]) -> str:
    value = str(image["image"])
    return value if value.startswith("http") else server.media_url + value


def _images(server: SandboxServer, name: str) -> list[dict[str, object]]:
    return server.catalog.get_product(server.catalog.well_known[name])["images"]  # type: ignore[return-value]


def _all_images(server: SandboxServer) -> list[dict[str, object]]:
    catalog = server.catalog
    return [
        image
        for product_id in catalog.product_ids()
        for image in catalog.get_product(product_id)["images"]
    ]


def test_media_serves_decodable_images(sandbox: SandboxServer) -> None:
    formats = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
    types = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
    sizes = set()
    for image in _images(sandbox, "ten"):
        response = httpx.get(_media_url(sandbox, image), timeout=MEDIA_TIMEOUT)
        assert response.status_code == 200
        picture = Image.open(io.BytesIO(response.content))
        picture.load()
        assert picture.format == formats[str(image["image"]).rsplit(".", 1)[-1]]
        assert response.headers["Content-Type"] == types[picture.format]
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert min(picture.size) >= 400
        assert max(picture.size) <= 2000
        sizes.add(picture.size)
    assert len(sizes) > 3


def test_media_needs_no_auth(sandbox: SandboxServer) -> None:
    image = _images(sandbox, "ten")[0]
    response = httpx.get(_media_url(sandbox, image), timeout=MEDIA_TIMEOUT)
    assert response.status_code == 200
    entry = sandbox.request_log[-1]
    assert entry["port"] == "media"
    assert entry["authorization"] is False
    assert entry["status"] == 200


def test_pictures_deterministic_and_distinct(make_sandbox: Callable[..., SandboxServer]) -> None:
    first, second = make_sandbox(seed=11), make_sandbox(seed=11)
    image_a, image_b = _images(first, "ten")[:2]
    body_a = httpx.get(_media_url(first, image_a), timeout=MEDIA_TIMEOUT).content
    again = httpx.get(_media_url(second, _images(second, "ten")[0]), timeout=MEDIA_TIMEOUT).content
    body_b = httpx.get(_media_url(first, image_b), timeout=MEDIA_TIMEOUT).content
    assert body_a == again
    assert body_a != body_b


def test_etag_and_if_none_match(sandbox: SandboxServer) -> None:
    url = _media_url(sandbox, _images(sandbox, "ten")[1])
    first = httpx.get(url, timeout=MEDIA_TIMEOUT)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert httpx.get(url, timeout=MEDIA_TIMEOUT).headers["ETag"] == etag
    cached = httpx.get(url, headers={"If-None-Match": etag}, timeout=MEDIA_TIMEOUT)
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["ETag"] == etag
    for header in (f'"other", {etag}', f"W/{etag}", "*"):
        assert (
            httpx.get(url, headers={"If-None-Match": header}, timeout=MEDIA_TIMEOUT).status_code
            == 304
        )
    changed = httpx.get(url, headers={"If-None-Match": '"stale"'}, timeout=MEDIA_TIMEOUT)
    assert changed.status_code == 200
    assert changed.content == first.content


def test_if_modified_since(sandbox: SandboxServer) -> None:
    url = _media_url(sandbox, _images(sandbox, "ten")[2])
    first = httpx.get(url, timeout=MEDIA_TIMEOUT)
    last_modified = first.headers["Last-Modified"]
    moment = email.utils.parsedate_to_datetime(last_modified)
    assert (
        httpx.get(
            url, headers={"If-Modified-Since": last_modified}, timeout=MEDIA_TIMEOUT
        ).status_code
        == 304
    )
    earlier = email.utils.format_datetime(moment.replace(year=moment.year - 1), usegmt=True)
    assert (
        httpx.get(url, headers={"If-Modified-Since": earlier}, timeout=MEDIA_TIMEOUT).status_code
        == 200
    )
    # If-None-Match wins over If-Modified-Since.
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"stale"'}
    assert httpx.get(url, headers=both, timeout=MEDIA_TIMEOUT).status_code == 200


def test_head_has_headers_only(sandbox: SandboxServer) -> None:
    url = _media_url(sandbox, _images(sandbox, "ten")[3])
    full = httpx.get(url, timeout=MEDIA_TIMEOUT)
    head = httpx.head(url, timeout=MEDIA_TIMEOUT)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(full.content))
    assert head.headers["ETag"] == full.headers["ETag"]


def test_media_unknown_and_methods(sandbox: SandboxServer) -> None:
    image = _images(sandbox, "ten")[0]
    url = _media_url(sandbox, image)
    assert httpx.get(url + "x", timeout=MEDIA_TIMEOUT).status_code == 404
    assert (
        httpx.get(sandbox.media_url + "media/products/a/b/c.jpg", timeout=MEDIA_TIMEOUT).status_code
        == 404
    )
    other_product = sandbox.catalog.well_known["sixty"]
    swapped = url.replace(sandbox.catalog.well_known["ten"], other_product)
    assert httpx.get(swapped, timeout=MEDIA_TIMEOUT).status_code == 404
    rejected = httpx.post(url, content=b"x", timeout=MEDIA_TIMEOUT)
    assert rejected.status_code == 405
    assert rejected.headers["Allow"] == "GET, HEAD"


def test_deleted_image_stays_on_cdn(sandbox: SandboxServer) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    image = _images(sandbox, "ten")[0]
    sandbox.catalog.delete_image(product_id, str(image["id"]))
    assert httpx.get(_media_url(sandbox, image), timeout=MEDIA_TIMEOUT).status_code == 200


def test_exif_oriented_jpegs_upright(sandbox: SandboxServer) -> None:
    """Some JPEGs carry an EXIF orientation; applying it shows the picture upright."""
    oriented = 0
    for image in _all_images(sandbox):
        if not str(image["image"]).endswith(".jpg"):
            continue
        spec = sandbox.catalog.find_picture(*_picture_key(image))
        assert spec is not None
        if spec.orientation == 1:
            continue
        body = httpx.get(_media_url(sandbox, image), timeout=MEDIA_TIMEOUT).content
        picture = Image.open(io.BytesIO(body))
        assert picture.getexif().get(0x0112) == spec.orientation
        upright = ImageOps.exif_transpose(picture)
        assert upright.size == (spec.width, spec.height)
        if spec.orientation in (6, 8) and spec.width != spec.height:
            assert picture.size == (spec.height, spec.width)
        oriented += 1
        if oriented >= 3:
            break
    assert oriented >= 1


def _picture_key(image: dict[str, object]) -> tuple[str, str, str]:
    from urllib.parse import unquote

    key = str(image["image"]).split("media/products/", 1)[1]
    product_id, image_id, file_name = key.split("/")
    return product_id, image_id, unquote(file_name)


def test_images_dir_byte_for_byte(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    files = {
        "b photo.png": b"\x89PNG\r\n\x1a\nnot really a png",
        "a.jpg": bytes(range(256)) * 40,
        "c.unknownext": b"anything at all",
        "notes.txt": b"plain text is served too",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / ".hidden.jpg").write_bytes(b"hidden")
    (folder / "subfolder").mkdir()
    server = make_sandbox(images_dir=folder)
    images = _images(server, "images_dir")
    assert [image["name"] for image in images] == sorted(files)
    assert sum(1 for image in images if image["thumbnail"]) == 1
    for image in images:
        response = httpx.get(_media_url(server, image), timeout=MEDIA_TIMEOUT)
        assert response.status_code == 200, image["name"]
        assert response.content == files[str(image["name"])]
    assert (
        httpx.get(_media_url(server, images[1]), timeout=MEDIA_TIMEOUT).headers["Content-Type"]
        == "image/png"
    )
    listed = server.catalog.list_page("", 0, 1)[1][0]
    assert listed["id"] == server.catalog.well_known["images_dir"]
    assert server.catalog.list_page("", 0, 100)[0] == 251


def test_images_dir_file_changes(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    (tmp_path / "one.jpg").write_bytes(b"first version")
    server = make_sandbox(images_dir=tmp_path)
    image = _images(server, "images_dir")[0]
    first = httpx.get(_media_url(server, image), timeout=MEDIA_TIMEOUT)
    (tmp_path / "one.jpg").write_bytes(b"second version, longer")
    import os

    os.utime(tmp_path / "one.jpg", (1_900_000_000, 1_900_000_000))
    second = httpx.get(
        _media_url(server, image),
        headers={"If-None-Match": first.headers["ETag"]},
        timeout=MEDIA_TIMEOUT,
    )
    assert second.status_code == 200
    assert second.content == b"second version, longer"
    (tmp_path / "one.jpg").unlink()
    assert httpx.get(_media_url(server, image), timeout=MEDIA_TIMEOUT).status_code == 404


def test_many_images_reuse_pictures(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(many_images=40)
    images = _images(server, "many_images")
    assert len(images) == 40
    assert len({image["image"] for image in images}) == 40
    bodies = {
        httpx.get(_media_url(server, image), timeout=MEDIA_TIMEOUT).content for image in images[:12]
    }
    assert 2 <= len(bodies) <= 6


def test_big_photos_cached_on_disk(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = make_sandbox(big_photos=2, data_dir=tmp_path)
    images = _images(server, "big_photos")
    assert len(images) == 2
    response = httpx.get(_media_url(server, images[0]), timeout=MEDIA_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.size == (4000, 3000)
    # Noise makes the photo compress like a camera JPEG: several megabytes, not a flat drawing.
    assert len(response.content) > 1_500_000
    cached = list((tmp_path / "big-photos").glob("*.jpg"))
    assert len(cached) == 1
    assert cached[0].read_bytes() == response.content
    again = httpx.get(_media_url(server, images[0]), timeout=MEDIA_TIMEOUT)
    assert again.content == response.content
