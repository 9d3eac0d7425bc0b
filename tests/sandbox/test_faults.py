"""Injected faults, seeded random failures, rate limiting and the loopback control endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from sandbox_support import image_path, product_path

from gallery_editor.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def ten_id(sandbox: SandboxServer) -> str:
    return sandbox.catalog.well_known["ten"]


@pytest.mark.parametrize("status", [500, 503, 429, 502, 404, 409])
def test_status_fault(
    sandbox: SandboxServer, client: httpx.Client, ten_id: str, status: int
) -> None:
    sandbox.faults.add(f"status:{status}", path=ten_id, method="GET")
    response = client.get(product_path(ten_id))
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)
    if status in (429, 503):
        assert response.headers["Retry-After"] == "1"
    assert client.get(product_path(ten_id)).status_code == 200


def test_fault_times_and_filters(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("status:500", path=r"page=\d", method="get", times=2)
    assert client.get("catalog/products/").status_code == 200
    assert client.get(product_path(ten_id)).status_code == 200
    assert client.get("catalog/products/", params={"page": 2}).status_code == 500
    assert client.get("catalog/products/", params={"page": 1}).status_code == 500
    assert client.get("catalog/products/", params={"page": 1}).status_code == 200
    assert sandbox.faults.pending() == []


def test_fault_unlimited_times(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.add("status:503", times=None)
    statuses = {client.get("catalog/products/").status_code for _ in range(5)}
    assert statuses == {503}
    sandbox.faults.clear()
    assert client.get("catalog/products/").status_code == 200


@pytest.mark.parametrize("kind", ["bogus", "status:99", "status:abc", "slow:", "slow:1000"])
def test_invalid_fault_rejected(sandbox: SandboxServer, kind: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        sandbox.faults.add(kind)


def test_invalid_fault_times_rejected(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="times"):
        sandbox.faults.add("status:500", times=0)


def test_malformed_json(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("malformed_json", path=ten_id)
    response = client.get(product_path(ten_id))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_truncated_json(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    full = client.get(product_path(ten_id)).content
    sandbox.faults.add("truncated_json", path=ten_id)
    response = client.get(product_path(ten_id))
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert 0 < len(response.content) < len(full)
    assert full.startswith(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_wrong_types(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("wrong_types", path=ten_id, times=None)
    product = client.get(product_path(ten_id)).json()
    assert not isinstance(product["images"], list)
    image_id = sandbox.catalog.get_product(ten_id)["images"][0]["id"]
    image = client.patch(image_path(ten_id, image_id), json={"enabled": True}).json()
    assert isinstance(image["ordering"], str)
    sandbox.faults.add("wrong_types", path="page_size")
    listing = client.get("catalog/products/", params={"page_size": 3}).json()
    assert isinstance(listing["count"], str)
    assert isinstance(listing["results"][0]["images"][0]["ordering"], str)


def test_missing_fields(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("missing_fields", path=ten_id, method="GET")
    product = client.get(product_path(ten_id)).json()
    assert "id" not in product
    assert all("ordering" not in image for image in product["images"])
    sandbox.faults.add("missing_fields", path="catalog/products/?")
    listing = client.get("catalog/products/", params={"page_size": 2}).json()
    assert all("id" not in result for result in listing["results"])


def test_patch_fault_after_change(
    sandbox: SandboxServer, client: httpx.Client, ten_id: str
) -> None:
    """A damaged PATCH response still means the change was applied, as with a real proxy."""
    image_id = sandbox.catalog.get_product(ten_id)["images"][0]["id"]
    sandbox.faults.add("truncated_json", method="PATCH")
    response = client.patch(image_path(ten_id, image_id), json={"name": "Applied anyway"})
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sandbox.catalog.get_product(ten_id)["images"][0]["name"] == "Applied anyway"


def test_status_fault_before_change(
    sandbox: SandboxServer, client: httpx.Client, ten_id: str
) -> None:
    image = sandbox.catalog.get_product(ten_id)["images"][0]
    sandbox.faults.add("status:500", method="PATCH")
    assert (
        client.patch(image_path(ten_id, image["id"]), json={"name": "Not applied"}).status_code
        == 500
    )
    assert sandbox.catalog.get_product(ten_id)["images"][0]["name"] == image["name"]


def test_drop_connection(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("drop_connection", path=ten_id)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(product_path(ten_id))
    assert client.get(product_path(ten_id)).status_code == 200
    dropped = [entry for entry in sandbox.request_log if entry["status"] is None]
    assert len(dropped) == 1


def test_slow_fault(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    sandbox.faults.add("slow:0.5", path=ten_id)
    started = time.monotonic()
    response = client.get(product_path(ten_id))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.5
    with pytest.raises(httpx.ReadTimeout):
        sandbox.faults.add("slow:2", path=ten_id)
        client.get(product_path(ten_id), timeout=httpx.Timeout(0.5, connect=2.0))


def test_foreign_next(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.add("foreign_next")
    body = client.get("catalog/products/").json()
    assert body["next"] == "https://attacker.invalid/api/v1/catalog/products/?page=2"
    assert len(body["results"]) == 100


def test_html_error(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.faults.add("html_error")
    response = client.get("catalog/products/")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"<html>" in response.content


def test_rate_limit_with_retry_after(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(rate_limit=3)
    client = make_client(server)
    statuses = [client.get("catalog/products/", params={"page_size": 1}) for _ in range(5)]
    assert [response.status_code for response in statuses] == [200, 200, 200, 429, 429]
    assert statuses[3].json() == {"detail": "Request was throttled."}
    assert statuses[3].headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert client.get("catalog/products/", params={"page_size": 1}).status_code == 200


def test_rate_limit_without_retry_after(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(rate_limit=1, retry_after=False)
    client = make_client(server)
    assert client.get("catalog/products/", params={"page_size": 1}).status_code == 200
    throttled = client.get("catalog/products/", params={"page_size": 1})
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers


def test_rate_limit_skips_media(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(rate_limit=1)
    image = server.catalog.get_product(server.catalog.well_known["ten"])["images"][0]
    url = image["image"] if image["image"].startswith("http") else server.media_url + image["image"]
    assert {httpx.get(url, timeout=30).status_code for _ in range(3)} == {200}


def test_fail_rate_mix_is_seeded(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    def outcomes(seed: int) -> list[object]:
        server = make_sandbox(fail_rate=0.5, seed=seed)
        # Slow draws take seconds, so a short read timeout turns them into a visible outcome.
        client = make_client(server, timeout=httpx.Timeout(0.3, connect=2.0))
        results: list[object] = []
        for _ in range(14):
            try:
                results.append(client.get("catalog/products/", params={"page_size": 1}).status_code)
            except httpx.ReadTimeout:
                results.append("slow")
            except httpx.RemoteProtocolError:
                results.append("dropped")
        return results

    first = outcomes(21)
    assert first == outcomes(21)
    assert 200 in first
    assert set(first) - {200} <= {500, 503, "dropped", "slow"}
    assert len(set(first) - {200}) >= 2


def test_fail_rate_patch_may_apply(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    """With fail_rate 1 every PATCH fails, and some of them change the image first."""
    server = make_sandbox(fail_rate=1.0, seed=3)
    client = make_client(server, timeout=httpx.Timeout(0.3, connect=2.0))
    product_id = server.catalog.well_known["two_hundred"]
    images = server.catalog.get_product(product_id)["images"][:16]
    for image in images:
        try:
            response = client.patch(image_path(product_id, image["id"]), json={"name": "Changed"})
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            continue
        assert response.status_code in (500, 503)
    # Slow draws finish their PATCH seconds after the client gave up; wait for all 16 to be logged.
    deadline = time.monotonic() + 15
    while len(server.request_log) < len(images) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.request_log) == len(images)
    names = {
        image["id"]: image["name"] for image in server.catalog.get_product(product_id)["images"]
    }
    applied = sum(1 for image in images if names[image["id"]] == "Changed")
    assert 0 < applied < len(images)


def test_request_log_file(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client], tmp_path
) -> None:
    log_path = tmp_path / "logs" / "requests.jsonl"
    server = make_sandbox(log_requests=log_path)
    client = make_client(server)
    product_id = server.catalog.well_known["ten"]
    image_id = server.catalog.get_product(product_id)["images"][0]["id"]
    client.get("catalog/products/", params={"page_size": 1})
    client.patch(image_path(product_id, image_id), json={"ordering": 3, "name": "Logged"})
    client.patch(
        image_path(product_id, image_id),
        content=b"{broken",
        headers={"Content-Type": "application/json"},
    )
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [(line["method"], line["status"]) for line in lines] == [
        ("GET", 200),
        ("PATCH", 200),
        ("PATCH", 400),
    ]
    assert lines[0]["path"] == "/api/v1/catalog/products/?page_size=1"
    assert "body" not in lines[0]
    assert lines[1]["body"] == {"ordering": 3, "name": "Logged"}
    assert lines[2]["body"] == "{broken"
    assert server.api_key not in log_path.read_text()


# --- control endpoints ----------------------------------------------------------------------


def test_control_needs_key(sandbox: SandboxServer) -> None:
    root = sandbox.api_url.removesuffix("/api/v1")
    assert httpx.get(root + "/_sandbox/state").status_code == 401
    assert httpx.post(root + "/_sandbox/faults", json={"kind": "status:500"}).status_code == 401
    assert sandbox.faults.pending() == []


def test_control_fault_and_state(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    root = sandbox.api_url.removesuffix("/api/v1")
    created = client.post(
        root + "/_sandbox/faults", json={"kind": "status:503", "path": ten_id, "times": 1}
    )
    assert created.status_code == 201
    assert created.json() == {"kind": "status:503", "path": ten_id, "method": None, "times": 1}
    assert client.get(product_path(ten_id)).status_code == 503
    state = client.get(root + "/_sandbox/state").json()
    assert state["wellKnown"] == sandbox.catalog.well_known
    assert len(state["products"]) == 250
    assert state["apiUrl"] == sandbox.api_url
    assert state["requestLog"][-1]["status"] == 503
    assert client.get(sandbox.api_url + "/_sandbox/state").status_code == 200


def test_control_rejects_bad_fault(sandbox: SandboxServer, client: httpx.Client) -> None:
    root = sandbox.api_url.removesuffix("/api/v1")
    for body in ({"kind": "explode"}, {"path": "x"}, {"kind": "status:500", "colour": 1}, [1]):
        response = client.post(root + "/_sandbox/faults", json=body)
        assert response.status_code == 400, body
        assert "detail" in response.json()


def test_control_image_edits(sandbox: SandboxServer, client: httpx.Client, ten_id: str) -> None:
    root = sandbox.api_url.removesuffix("/api/v1")
    added = client.post(
        f"{root}/_sandbox/products/{ten_id}/images", json={"name": "From test", "thumbnail": True}
    )
    assert added.status_code == 201
    image = added.json()
    assert image["name"] == "From test"
    assert image["thumbnail"] is True
    product = sandbox.catalog.get_product(ten_id)
    assert len(product["images"]) == 11
    assert [item["id"] for item in product["images"] if item["thumbnail"]] == [image["id"]]
    changed = client.patch(
        f"{root}/_sandbox/products/{ten_id}/images/{image['id']}", json={"name": None}
    )
    assert changed.json()["name"] is None
    assert (
        client.delete(f"{root}/_sandbox/products/{ten_id}/images/{image['id']}").status_code == 204
    )
    assert len(sandbox.catalog.get_product(ten_id)["images"]) == 10
    missing = client.post(
        f"{root}/_sandbox/products/00000000-0000-4000-8000-000000000000/images", json={}
    )
    assert missing.status_code == 404
