"""Sandbox catalog endpoints over real sockets: auth, 404s, pagination, search and PATCH rules."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import httpx
import pytest
from sandbox_support import image_path, product_path

from gallery_editor.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


# --- auth and routing ---------------------------------------------------------------------


def test_missing_key_is_401(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.api_url + "/catalog/products/")
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer", "bearer"])
def test_wrong_key_is_401(sandbox: SandboxServer, header: str) -> None:
    response = httpx.get(sandbox.api_url + "/catalog/products/", headers={"Authorization": header})
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_every_endpoint_needs_key(sandbox: SandboxServer) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    image_id = sandbox.catalog.get_product(product_id)["images"][0]["id"]
    calls = [
        ("GET", f"/catalog/products/{product_id}/"),
        ("PATCH", f"/catalog/products/{product_id}/image/{image_id}/"),
        ("DELETE", f"/catalog/products/{product_id}/image/{image_id}/"),
    ]
    for method, path in calls:
        response = httpx.request(method, sandbox.api_url + path, json={"name": "x"})
        assert response.status_code == 401, (method, path)
    assert len(sandbox.catalog.get_product(product_id)["images"]) == 10


def test_key_from_config_is_used(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(api_key="fixed-test-key")
    assert server.api_key == "fixed-test-key"
    response = httpx.get(
        server.api_url + "/catalog/products/", headers={"Authorization": "Bearer fixed-test-key"}
    )
    assert response.status_code == 200


def test_generated_keys_differ(make_sandbox: Callable[..., SandboxServer]) -> None:
    first, second = make_sandbox(), make_sandbox()
    assert first.api_key != second.api_key
    assert len(first.api_key) >= 20


def test_urls_are_loopback(sandbox: SandboxServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", sandbox.api_url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", sandbox.media_url)
    assert sandbox.api_port != sandbox.media_port


def test_non_loopback_host_rejected() -> None:
    from gallery_editor.sandbox import SandboxConfig

    with pytest.raises(ValueError, match="loopback"):
        SandboxServer(SandboxConfig(host="0.0.0.0")).start()


def test_unknown_path_is_404_json(client: httpx.Client) -> None:
    response = client.get("catalog/unknown/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_path_without_slash_is_404(client: httpx.Client) -> None:
    response = client.get("catalog/products")
    assert response.status_code == 404
    assert "end with '/'" in response.json()["detail"]


def test_outside_api_is_404(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.api_url.removesuffix("/api/v1") + "/index.html")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path_kind", "allow"),
    [
        ("POST", "list", "GET, HEAD"),
        ("DELETE", "list", "GET, HEAD"),
        ("PUT", "product", "GET, HEAD"),
        ("PATCH", "product", "GET, HEAD"),
        ("GET", "image", "PATCH, DELETE"),
        ("PUT", "image", "PATCH, DELETE"),
    ],
)
def test_other_methods_are_405(
    sandbox: SandboxServer, client: httpx.Client, method: str, path_kind: str, allow: str
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    image_id = sandbox.catalog.get_product(product_id)["images"][0]["id"]
    path = {
        "list": "catalog/products/",
        "product": product_path(product_id),
        "image": image_path(product_id, image_id),
    }[path_kind]
    response = client.request(method, path, json={"name": "x"})
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert "detail" in response.json()


def test_keep_alive_reuses_connection(sandbox: SandboxServer) -> None:
    """Several requests go over one socket, so the server speaks HTTP/1.1 keep-alive."""
    host, port = "127.0.0.1", sandbox.api_port
    request = (
        f"GET /api/v1/catalog/products/?page_size=1 HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {sandbox.api_key}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=5) as connection:
        reader = connection.makefile("rb")
        for _ in range(3):
            connection.sendall(request)
            status_line = reader.readline()
            assert status_line.startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length > 0
            assert reader.read(length).startswith(b"{")


def test_openapi_served_without_key(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.api_url.removesuffix("/api/v1") + "/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/yaml")
    assert "operationId: updateProductImage" in response.text
    # The local server entry names the port this sandbox listens on.
    assert f'default: "{sandbox.api_port}"' in response.text


def test_oversized_body_is_413(sandbox: SandboxServer, client: httpx.Client) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    image_id = sandbox.catalog.get_product(product_id)["images"][0]["id"]
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.patch(image_path(product_id, image_id), content=body)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_chunked_patch_body(sandbox: SandboxServer, client: httpx.Client) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    image_id = sandbox.catalog.get_product(product_id)["images"][0]["id"]
    chunks = iter([b'{"name": ', b'"Chunked"}'])
    response = client.patch(image_path(product_id, image_id), content=chunks)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200
    assert response.json()["name"] == "Chunked"


# --- list and search ----------------------------------------------------------------------


def test_list_three_pages(sandbox: SandboxServer, client: httpx.Client) -> None:
    first = client.get("catalog/products/").json()
    assert first["count"] == 250
    assert len(first["results"]) == 100
    assert first["previous"] is None
    assert first["next"] == f"{sandbox.api_url}/catalog/products/?page=2"

    second = httpx.get(first["next"], headers=client.headers).json()
    assert len(second["results"]) == 100
    assert second["previous"] == f"{sandbox.api_url}/catalog/products/"
    assert second["next"] == f"{sandbox.api_url}/catalog/products/?page=3"

    third = httpx.get(second["next"], headers=client.headers).json()
    assert len(third["results"]) == 50
    assert third["next"] is None
    assert third["previous"] == f"{sandbox.api_url}/catalog/products/?page=2"

    ids = [product["id"] for page in (first, second, third) for product in page["results"]]
    assert len(set(ids)) == 250
    assert set(sandbox.catalog.well_known.values()) <= set(ids)


def test_list_results_have_images_no_plans(client: httpx.Client) -> None:
    product = client.get("catalog/products/", params={"page_size": 1}).json()["results"][0]
    for key in (
        "id",
        "identifier",
        "name",
        "description",
        "taxCode",
        "createdBy",
        "modifiedOn",
        "images",
    ):
        assert key in product, key
    assert "plans" not in product


def test_page_past_end_is_404(client: httpx.Client) -> None:
    response = client.get("catalog/products/", params={"page": 4})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_empty_search_first_page_is_200(client: httpx.Client) -> None:
    response = client.get("catalog/products/", params={"search": "no product has this text"})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert (
        client.get(
            "catalog/products/", params={"search": "no product has this text", "page": 2}
        ).status_code
        == 404
    )


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", " 2", "+3"])
@pytest.mark.parametrize("parameter", ["page", "page_size"])
def test_bad_page_parameters_are_400(client: httpx.Client, parameter: str, value: str) -> None:
    response = client.get("catalog/products/", params={parameter: value})
    assert response.status_code == 400
    assert parameter in response.json()["detail"]


def test_page_size_capped_at_100(client: httpx.Client) -> None:
    body = client.get("catalog/products/", params={"page_size": 1000}).json()
    assert len(body["results"]) == 100
    assert "page_size=1000" in body["next"]


def test_page_size_small_keeps_parameters(sandbox: SandboxServer, client: httpx.Client) -> None:
    body = client.get("catalog/products/", params={"page_size": 7, "page": 3}).json()
    assert len(body["results"]) == 7
    assert body["next"] == f"{sandbox.api_url}/catalog/products/?page_size=7&page=4"
    assert body["previous"] == f"{sandbox.api_url}/catalog/products/?page_size=7&page=2"
    pages = -(-250 // 7)
    last = client.get("catalog/products/", params={"page_size": 7, "page": pages}).json()
    assert len(last["results"]) == 250 - 7 * (pages - 1)
    assert last["next"] is None


def test_search_case_insensitive_fields(sandbox: SandboxServer, client: httpx.Client) -> None:
    product = sandbox.catalog.get_product(sandbox.catalog.well_known["sixty"])
    for text in (
        product["name"].upper(),
        product["identifier"],
        product["description"][5:25].lower(),
    ):
        body = client.get("catalog/products/", params={"search": text}).json()
        ids = [result["id"] for result in body["results"]]
        assert product["id"] in ids, text
        for result in body["results"]:
            haystack = " ".join(
                (result["name"], result["identifier"], result["description"])
            ).lower()
            assert text.lower() in haystack


def test_search_keeps_in_next_link(client: httpx.Client) -> None:
    body = client.get("catalog/products/", params={"search": "e", "page_size": 5}).json()
    assert body["count"] > 5
    assert "search=e" in body["next"]


# --- one product ----------------------------------------------------------------------------


def test_get_product_has_images_and_plans(sandbox: SandboxServer, client: httpx.Client) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    product = client.get(product_path(product_id)).json()
    assert product["id"] == product_id
    assert isinstance(product["plans"], list)
    assert len(product["images"]) == 10
    for image in product["images"]:
        assert set(image) == {"id", "name", "image", "ordering", "thumbnail", "enabled"}
    assert product == sandbox.catalog.get_product(product_id)


def test_unknown_product_is_404(client: httpx.Client) -> None:
    for product_id in (UNKNOWN_ID, "not-a-uuid"):
        response = client.get(product_path(product_id))
        assert response.status_code == 404
        assert "detail" in response.json()


def test_head_product_has_no_body(sandbox: SandboxServer, client: httpx.Client) -> None:
    response = client.head(product_path(sandbox.catalog.well_known["ten"]))
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 100


# --- PATCH and DELETE -------------------------------------------------------------------------


@pytest.fixture
def ten(sandbox: SandboxServer) -> dict[str, object]:
    return sandbox.catalog.get_product(sandbox.catalog.well_known["ten"])


def test_patch_returns_only_image(client: httpx.Client, ten: dict[str, object]) -> None:
    image = ten["images"][3]
    response = client.patch(
        image_path(ten["id"], image["id"]), json={"name": "  New name  ", "enabled": False}
    )
    assert response.status_code == 200
    assert response.json() == {**image, "name": "New name", "enabled": False}


def test_patch_changes_modified_on(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    image = ten["images"][1]
    client.patch(image_path(ten["id"], image["id"]), json={"enabled": True})
    after_patch = sandbox.catalog.get_product(ten["id"])["modifiedOn"]
    assert after_patch > ten["modifiedOn"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", after_patch)
    client.delete(image_path(ten["id"], image["id"]))
    assert sandbox.catalog.get_product(ten["id"])["modifiedOn"] > after_patch


def test_patch_unknown_image_is_404(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    other = sandbox.catalog.get_product(sandbox.catalog.well_known["sixty"])
    foreign_image = other["images"][0]["id"]
    for product_id, image_id in (
        (ten["id"], UNKNOWN_ID),
        (ten["id"], foreign_image),
        (UNKNOWN_ID, ten["images"][0]["id"]),
    ):
        for method in ("PATCH", "DELETE"):
            response = client.request(method, image_path(product_id, image_id), json={"name": "x"})
            assert response.status_code == 404, (method, product_id, image_id)
            assert "detail" in response.json()
    assert sandbox.catalog.get_product(other["id"])["images"][0] == other["images"][0]


def test_unknown_image_404_before_400(client: httpx.Client, ten: dict[str, object]) -> None:
    response = client.patch(image_path(ten["id"], UNKNOWN_ID), json={"bogus": 1})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": 5}, {"name": ["Not a valid string."]}),
        (
            {"name": "x" * 256},
            {"name": ["Ensure this field has no more than 255 characters (it has 256)."]},
        ),
        (
            {"name": "a\nb"},
            {"name": ["Control characters are not allowed: found U+000A at position 1."]},
        ),
        ({"ordering": -1}, {"ordering": ["Ensure this value is greater than or equal to 0."]}),
        ({"ordering": "3"}, {"ordering": ["A valid integer is required."]}),
        ({"ordering": True}, {"ordering": ["A valid integer is required."]}),
        ({"ordering": 1.5}, {"ordering": ["A valid integer is required."]}),
        ({"ordering": None}, {"ordering": ["A valid integer is required."]}),
        ({"thumbnail": "true"}, {"thumbnail": ["Must be a valid boolean."]}),
        ({"enabled": 1}, {"enabled": ["Must be a valid boolean."]}),
        (
            {"image": "x.png", "id": "y"},
            {
                "image": [
                    "Unknown field: only name, ordering, thumbnail and enabled can be changed."
                ],
                "id": ["Unknown field: only name, ordering, thumbnail and enabled can be changed."],
            },
        ),
        (
            {"name": "", "ordering": -5, "enabled": True},
            {
                "name": ["This field may not be blank."],
                "ordering": ["Ensure this value is greater than or equal to 0."],
            },
        ),
    ],
)
def test_patch_validation_messages(
    sandbox: SandboxServer,
    client: httpx.Client,
    ten: dict[str, object],
    body: dict[str, object],
    expected: object,
) -> None:
    image = ten["images"][0]
    response = client.patch(image_path(ten["id"], image["id"]), json=body)
    assert response.status_code == 400
    assert response.json() == expected
    assert sandbox.catalog.get_product(ten["id"]) == ten


@pytest.mark.parametrize(
    ("content", "detail_part"),
    [
        (b"", "empty"),
        (b"{}", "No fields"),
        (b"{not json", "JSON parse error"),
        (b"[1, 2]", "expected a JSON object"),
        (b'"name"', "expected a JSON object"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_patch_bad_body_gets_detail(
    client: httpx.Client, ten: dict[str, object], content: bytes, detail_part: str
) -> None:
    image = ten["images"][0]
    response = client.patch(
        image_path(ten["id"], image["id"]),
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert detail_part in response.json()["detail"]


def test_patch_accepts_edge_values(client: httpx.Client, ten: dict[str, object]) -> None:
    image = ten["images"][0]
    path = image_path(ten["id"], image["id"])
    assert client.patch(path, json={"name": "x" * 255}).json()["name"] == "x" * 255
    assert client.patch(path, json={"name": " y" + " " * 300}).json()["name"] == "y"
    assert client.patch(path, json={"ordering": 0}).json()["ordering"] == 0
    assert client.patch(path, json={"ordering": 7.0}).json()["ordering"] == 7
    assert client.patch(path, json={"name": "Größe – M ✓"}).json()["name"] == "Größe – M ✓"


def test_thumbnail_true_is_exclusive(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    assert [image["thumbnail"] for image in ten["images"]].count(True) == 1
    target = ten["images"][5]
    response = client.patch(image_path(ten["id"], target["id"]), json={"thumbnail": True})
    assert response.json()["thumbnail"] is True
    after = sandbox.catalog.get_product(ten["id"])
    starred = [image["id"] for image in after["images"] if image["thumbnail"]]
    assert starred == [target["id"]]


def test_thumbnail_false_leaves_none(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    current = next(image for image in ten["images"] if image["thumbnail"])
    response = client.patch(image_path(ten["id"], current["id"]), json={"thumbnail": False})
    assert response.json()["thumbnail"] is False
    after = sandbox.catalog.get_product(ten["id"])
    assert [image for image in after["images"] if image["thumbnail"]] == []


def test_delete_is_204_then_404(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    image = ten["images"][2]
    response = client.delete(image_path(ten["id"], image["id"]))
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers
    remaining = [item["id"] for item in sandbox.catalog.get_product(ten["id"])["images"]]
    assert image["id"] not in remaining
    assert len(remaining) == 9
    assert client.delete(image_path(ten["id"], image["id"])).status_code == 404
    assert (
        client.patch(image_path(ten["id"], image["id"]), json={"enabled": True}).status_code == 404
    )


def test_request_log_entries(
    sandbox: SandboxServer, client: httpx.Client, ten: dict[str, object]
) -> None:
    image = ten["images"][0]
    client.patch(image_path(ten["id"], image["id"]), json={"ordering": 4})
    httpx.get(sandbox.api_url + "/catalog/products/")
    patch_entry, anonymous_entry = sandbox.request_log[-2:]
    assert patch_entry == {
        "port": "api",
        "method": "PATCH",
        "path": f"/api/v1/catalog/products/{ten['id']}/image/{image['id']}/",
        "status": 200,
        "authorization": True,
        "body": {"ordering": 4},
    }
    assert anonymous_entry["status"] == 401
    assert anonymous_entry["authorization"] is False
    assert "body" not in anonymous_entry


def test_latency_delays_api(
    make_sandbox: Callable[..., SandboxServer], make_client: Callable[..., httpx.Client]
) -> None:
    server = make_sandbox(latency_ms=300)
    client = make_client(server)
    response = client.get("catalog/products/", params={"page_size": 1})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3
