"""Tests of KelviqClient against the sandbox server over loopback sockets."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gallery_editor import __version__
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
from gallery_editor.api.parsing import parse_product
from gallery_editor.sandbox import SandboxServer
from tests.api.conftest import RequestRecorder

pytestmark = pytest.mark.timeout(60)

MakeClient = Callable[..., KelviqClient]
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def api_requests(sandbox: SandboxServer, count: int, method: str | None = None) -> list[dict[str, object]]:
    """Return the sandbox's API log entries once ``count`` of them are there (or after 5 s).

    The sandbox logs a request after sending its response, so the client may return first.
    """
    deadline = time.monotonic() + 5.0
    while True:
        entries = [
            entry
            for entry in list(sandbox.request_log)
            if entry["port"] == "api" and (method is None or entry["method"] == method)
        ]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.01)


def query_of(entry: dict[str, object]) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(entry["path"])).query)


def first_image_id(sandbox: SandboxServer, product_id: str) -> str:
    images = sandbox.catalog.get_product(product_id)["images"]
    assert isinstance(images, list)
    return str(images[0]["id"])


# -- endpoints --------------------------------------------------------------------------


def test_list_products_three_pages(client: KelviqClient, sandbox: SandboxServer) -> None:
    """Listing reads three pages of 100 and returns each of the 250 products once."""
    products = client.list_products()

    ids = [product.id for product in products]
    assert len(ids) == 250
    assert len(set(ids)) == 250
    assert set(ids) == set(sandbox.catalog.product_ids())

    pages = api_requests(sandbox, 3, "GET")
    assert [query_of(entry)["page"] for entry in pages] == [["1"], ["2"], ["3"]]
    assert all(query_of(entry)["page_size"] == ["100"] for entry in pages)


def test_list_products_with_search(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A search keeps its text and page size on every page the client builds."""
    expected = [product["id"] for product in sandbox.catalog.list_products("a")]
    assert len(expected) > 20, "the search term should match several pages of 10"

    products = list(client.iter_products("  a  ", page_size=10))

    assert [product.id for product in products] == expected
    page_count = -(-len(expected) // 10)
    pages = api_requests(sandbox, page_count, "GET")
    assert len(pages) == page_count
    for number, entry in enumerate(pages, start=1):
        query = query_of(entry)
        assert query["search"] == ["a"]
        assert query["page_size"] == ["10"]
        assert query["page"] == [str(number)]


def test_list_products_empty_search(client: KelviqClient) -> None:
    """A search that matches nothing gives an empty list."""
    assert client.list_products("no product has this text 7f3a") == []


def test_list_ends_on_404_after_first_page(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A 404 for a page after the first ends the list instead of failing."""
    sandbox.faults.add("status:404", path="page=3", method="GET")

    products = client.list_products()

    assert len(products) == 200


def test_list_404_on_first_page_raises(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A 404 for the first page is an error, not an empty catalog."""
    sandbox.faults.add("status:404", path="page=1", method="GET")

    with pytest.raises(NotFoundError):
        client.list_products()


def test_get_product_matches_server(client: KelviqClient, sandbox: SandboxServer) -> None:
    """get_product returns the product as the server stores it, with ten images and plans."""
    product_id = sandbox.catalog.well_known["ten"]

    product = client.get_product(product_id)

    assert product == parse_product(sandbox.catalog.get_product(product_id))
    assert len(product.images) == 10
    assert product.plans is not None


def test_get_awkward_product(client: KelviqClient, sandbox: SandboxServer) -> None:
    """Null, very long and untrimmed image names arrive unchanged."""
    product_id = sandbox.catalog.well_known["awkward"]

    product = client.get_product(product_id)

    names = [image.name for image in product.images]
    assert None in names
    assert names == [image["name"] for image in sandbox.catalog.get_product(product_id)["images"]]


def test_update_image_sends_only_given_fields(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A PATCH carries exactly the given fields and returns the updated image."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)

    image = client.update_image(product_id, image_id, name="Side view", enabled=False)

    assert image.id == image_id
    assert image.name == "Side view"
    assert image.enabled is False
    patches = api_requests(sandbox, 1, "PATCH")
    assert len(patches) == 1
    assert patches[0]["body"] == {"name": "Side view", "enabled": False}
    stored = client.get_product(product_id).image_by_id(image_id)
    assert stored is not None
    assert stored.name == "Side view"


def test_update_image_thumbnail_moves(client: KelviqClient, sandbox: SandboxServer) -> None:
    """Setting thumbnail on one image leaves it the only thumbnail after a re-read."""
    product_id = sandbox.catalog.well_known["ten"]
    last_image = client.get_product(product_id).images_in_order()[-1]

    client.update_image(product_id, last_image.id, thumbnail=True)

    thumbnails = [image.id for image in client.get_product(product_id).images if image.thumbnail]
    assert thumbnails == [last_image.id]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, ValueError),
        ({"colour": "red"}, TypeError),
        ({"ordering": True}, TypeError),
        ({"ordering": "2"}, TypeError),
        ({"thumbnail": 1}, TypeError),
        ({"name": None}, TypeError),
    ],
)
def test_update_image_rejects_bad_fields(
    client: KelviqClient,
    sandbox: SandboxServer,
    recorder: RequestRecorder,
    fields: dict[str, object],
    error: type[Exception],
) -> None:
    """Unknown, missing or mistyped fields are rejected before any request is sent."""
    product_id = sandbox.catalog.well_known["ten"]

    with pytest.raises(error):
        client.update_image(product_id, first_image_id(sandbox, product_id), **fields)

    assert recorder.requests == []


@pytest.mark.parametrize("bad_id", ["", ".", ".."])
def test_ids_that_climb_paths_rejected(client: KelviqClient, recorder: RequestRecorder, bad_id: str) -> None:
    """Ids that would change the path's meaning raise ValueError without a request."""
    with pytest.raises(ValueError, match="product id"):
        client.get_product(bad_id)

    assert recorder.requests == []


def test_id_with_slash_stays_one_segment(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A slash inside an id is percent-encoded, so the server receives one unknown product id."""
    with pytest.raises(NotFoundError):
        client.get_product("a/../b")

    assert api_requests(sandbox, 1)[0]["path"] == "/api/v1/catalog/products/a%2F..%2Fb/"


def test_delete_image(client: KelviqClient, sandbox: SandboxServer) -> None:
    """DELETE removes the image, and deleting it again is a NotFoundError."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)

    client.delete_image(product_id, image_id)

    assert client.get_product(product_id).image_by_id(image_id) is None
    with pytest.raises(NotFoundError):
        client.delete_image(product_id, image_id)


def test_retried_delete_404_is_success(make_client: MakeClient, sandbox: SandboxServer, sleeps: list[float]) -> None:
    """A 404 on a retried DELETE means the first attempt deleted the image."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)
    sandbox.faults.add("status:503", path="/image/", method="DELETE")

    # The image disappears between the attempts, as if the failed attempt had deleted it.
    def delete_between_attempts(error: ApiError, attempt: int) -> None:
        sandbox.catalog.delete_image(product_id, image_id)

    client = make_client(retry=RetryPolicy(sleep=sleeps.append, on_retry=delete_between_attempts))

    client.delete_image(product_id, image_id)

    assert [entry["status"] for entry in api_requests(sandbox, 2, "DELETE")] == [503, 404]


def test_media_url_resolution(client: KelviqClient, sandbox: SandboxServer) -> None:
    """Storage keys resolve onto the sandbox's media URL, absolute URLs stay, and nothing is fetched."""
    product = client.get_product(sandbox.catalog.well_known["sixty"])

    for image in product.images:
        url = client.resolve_image_url(image.image)
        if image.image.startswith("http"):
            assert url == image.image
        else:
            assert url == sandbox.media_url + image.image
        assert url.startswith(sandbox.media_url)

    assert [entry for entry in sandbox.request_log if entry["port"] == "media"] == []


# -- errors -----------------------------------------------------------------------------


def test_wrong_key_authentication_error(make_client: MakeClient, sandbox: SandboxServer) -> None:
    """A wrong key gives a 401 AuthenticationError hinting at the environment, without the key."""
    wrong_key = "sk_test_wrong_key_0123456789"
    client = make_client(api_key=wrong_key)

    with pytest.raises(AuthenticationError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    error = caught.value
    assert error.status == 401
    assert error.method == "GET"
    assert error.path == f"/api/v1/catalog/products/{sandbox.catalog.well_known['ten']}/"
    assert "production key is rejected by the sandbox" in error.message
    for text in (error.message, str(error), repr(error)):
        assert wrong_key not in text
        assert sandbox.api_key not in text
    assert len(api_requests(sandbox, 1)) == 1, "a 401 is not retried"


def test_unknown_product_not_found(client: KelviqClient, sandbox: SandboxServer) -> None:
    """An unknown product id is a NotFoundError with status 404, not retried."""
    with pytest.raises(NotFoundError) as caught:
        client.get_product(UNKNOWN_ID)

    assert caught.value.status == 404
    assert caught.value.message
    assert len(api_requests(sandbox, 1)) == 1


def test_unknown_image_not_found(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A PATCH of an unknown image is a NotFoundError."""
    with pytest.raises(NotFoundError):
        client.update_image(sandbox.catalog.well_known["ten"], UNKNOWN_ID, enabled=True)


def test_validation_error_field_messages(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A 400 with per-field messages becomes a ValidationError with field_errors, not retried."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)

    with pytest.raises(ValidationError) as caught:
        client.update_image(product_id, image_id, name="   ", ordering=-1)

    error = caught.value
    assert error.status == 400
    assert set(error.field_errors) == {"name", "ordering"}
    assert all(messages for messages in error.field_errors.values())
    first_field = next(iter(error.field_errors))
    assert error.message == f"{first_field}: {error.field_errors[first_field][0]}"
    assert len(api_requests(sandbox, 1, "PATCH")) == 1


def test_rate_limit_retry_after_seconds(sandbox_rate_limited: SandboxServer, sleeps: list[float]) -> None:
    """A 429 with Retry-After in seconds is retried after that wait, and on_retry hears of it."""
    calls: list[tuple[type[ApiError], int]] = []

    # The sandbox's rate window is real time, so this test waits the full second it is given.
    def record_and_sleep(delay: float) -> None:
        sleeps.append(delay)
        time.sleep(delay)

    policy = RetryPolicy(sleep=record_and_sleep, on_retry=lambda error, attempt: calls.append((type(error), attempt)))
    product_id = sandbox_rate_limited.catalog.well_known["ten"]

    with KelviqClient(sandbox_rate_limited.api_url, sandbox_rate_limited.api_key, retry=policy) as client:
        client.get_product(product_id)
        # The second request in the same second is over the limit of one per second.
        product = client.get_product(product_id)

    assert product.id == product_id
    statuses = [entry["status"] for entry in api_requests(sandbox_rate_limited, 3)]
    assert statuses[:2] == [200, 429]
    assert statuses[-1] == 200
    assert sleeps[0] == 1.0
    assert calls[0] == (RateLimitedError, 1)


def test_rate_limit_error_after_attempts(client: KelviqClient, sandbox: SandboxServer, sleeps: list[float]) -> None:
    """A 429 that persists surfaces as RateLimitedError after the policy's four attempts."""
    sandbox.faults.add("status:429", method="GET", times=None)

    with pytest.raises(RateLimitedError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status == 429
    assert len(api_requests(sandbox, 4)) == 4
    assert len(sleeps) == 3


def test_server_error_retried_then_ok(client: KelviqClient, sandbox: SandboxServer, sleeps: list[float]) -> None:
    """A single 503 is retried after a backoff within the policy's bounds."""
    sandbox.faults.add("status:503", method="GET")

    product = client.get_product(sandbox.catalog.well_known["ten"])

    assert product.id == sandbox.catalog.well_known["ten"]
    assert [entry["status"] for entry in api_requests(sandbox, 2)] == [503, 200]
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 0.5


def test_server_error_after_attempts(client: KelviqClient, sandbox: SandboxServer, sleeps: list[float]) -> None:
    """A lasting 500 becomes a ServerError after four attempts with growing backoff caps."""
    sandbox.faults.add("status:500", times=None)

    with pytest.raises(ServerError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status == 500
    assert len(api_requests(sandbox, 4)) == 4
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0.0 <= delay <= min(8.0, 0.5 * 2 ** (attempt - 1))


def test_html_error_page(make_client: MakeClient, sandbox: SandboxServer) -> None:
    """A 502 HTML page becomes a ServerError whose message is the page's text, not markup."""
    sandbox.faults.add("html_error", times=None)
    client = make_client(retry=RetryPolicy.none())

    with pytest.raises(ServerError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status == 502
    assert "<" not in caught.value.message


def test_not_retryable_status_raises_at_once(client: KelviqClient, sandbox: SandboxServer) -> None:
    """A 501 is a ServerError but not worth retrying."""
    sandbox.faults.add("status:501", times=None)

    with pytest.raises(ServerError):
        client.get_product(sandbox.catalog.well_known["ten"])

    assert len(api_requests(sandbox, 1)) == 1


def test_redirect_not_followed(client: KelviqClient, sandbox: SandboxServer, recorder: RequestRecorder) -> None:
    """A 3xx is a RedirectError (a NetworkError), neither followed nor retried."""
    sandbox.faults.add("status:302", times=None)

    with pytest.raises(RedirectError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert isinstance(caught.value, NetworkError)
    assert caught.value.status == 302
    assert len(recorder.requests) == 1


def test_dropped_connection(make_client: MakeClient, sandbox: SandboxServer) -> None:
    """A connection closed without a response is a NetworkError with no status."""
    sandbox.faults.add("drop_connection")
    client = make_client(retry=RetryPolicy.none())

    with pytest.raises(NetworkError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status is None
    assert caught.value.method == "GET"


def test_dropped_connection_retried(client: KelviqClient, sandbox: SandboxServer, sleeps: list[float]) -> None:
    """A dropped PATCH is retried, and the retry succeeds."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)
    sandbox.faults.add("drop_connection", method="PATCH")

    image = client.update_image(product_id, image_id, name="Retried")

    assert image.name == "Retried"
    assert len(api_requests(sandbox, 2, "PATCH")) == 2
    assert len(sleeps) == 1


def test_timeout_is_network_error(make_client: MakeClient, sandbox: SandboxServer) -> None:
    """A response slower than the read timeout is a NetworkError saying it timed out."""
    sandbox.faults.add("slow:3")
    client = make_client(retry=RetryPolicy.none(), timeout=httpx.Timeout(0.5, connect=2.0))

    with pytest.raises(NetworkError, match="timed out") as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status is None


def test_connection_refused(sandbox: SandboxServer) -> None:
    """A port with no server is a NetworkError naming the origin."""
    port = urlsplit(sandbox.api_url).port
    sandbox.stop()
    client = KelviqClient(f"http://127.0.0.1:{port}/api/v1", "key", retry=RetryPolicy.none())

    with client, pytest.raises(NetworkError, match=f"127.0.0.1:{port}"):
        client.get_product(UNKNOWN_ID)


# -- malformed responses ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["malformed_json", "truncated_json"])
def test_damaged_body_retried_once_on_get(
    client: KelviqClient, sandbox: SandboxServer, kind: str
) -> None:
    """A GET whose body is not valid JSON is retried once and then succeeds."""
    sandbox.faults.add(kind, method="GET")

    product = client.get_product(sandbox.catalog.well_known["ten"])

    assert len(product.images) == 10
    assert len(api_requests(sandbox, 2)) == 2


@pytest.mark.parametrize("kind", ["malformed_json", "truncated_json"])
def test_damaged_body_twice_raises(client: KelviqClient, sandbox: SandboxServer, kind: str) -> None:
    """A body damaged twice in a row raises InvalidResponseError after the single retry."""
    sandbox.faults.add(kind, method="GET", times=None)

    with pytest.raises(InvalidResponseError) as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.status == 200
    assert "JSON" in caught.value.message
    assert len(api_requests(sandbox, 2)) == 2


@pytest.mark.parametrize("kind", ["wrong_types", "missing_fields"])
def test_wrong_shape_raises(client: KelviqClient, sandbox: SandboxServer, kind: str) -> None:
    """Valid JSON of the wrong shape raises InvalidResponseError naming a field, without a retry."""
    sandbox.faults.add(kind, method="GET")

    with pytest.raises(InvalidResponseError, match=r"expected|missing") as caught:
        client.get_product(sandbox.catalog.well_known["ten"])

    assert caught.value.path == f"/api/v1/catalog/products/{sandbox.catalog.well_known['ten']}/"
    assert len(api_requests(sandbox, 1)) == 1


@pytest.mark.parametrize("kind", ["wrong_types", "missing_fields", "truncated_json"])
def test_damaged_list_page_raises(client: KelviqClient, sandbox: SandboxServer, kind: str) -> None:
    """A damaged page of the product list raises InvalidResponseError."""
    sandbox.faults.add(kind, path="page=2", times=None)

    with pytest.raises(InvalidResponseError):
        client.list_products()


@pytest.mark.parametrize("kind", ["malformed_json", "truncated_json", "wrong_types"])
def test_damaged_patch_response_not_retried(client: KelviqClient, sandbox: SandboxServer, kind: str) -> None:
    """A damaged PATCH response raises InvalidResponseError without sending the PATCH again."""
    product_id = sandbox.catalog.well_known["ten"]
    image_id = first_image_id(sandbox, product_id)
    sandbox.faults.add(kind, method="PATCH")

    with pytest.raises(InvalidResponseError):
        client.update_image(product_id, image_id, name="Once")

    assert len(api_requests(sandbox, 1, "PATCH")) == 1


# -- security ---------------------------------------------------------------------------


def test_foreign_next_gets_no_request(
    client: KelviqClient, sandbox: SandboxServer, recorder: RequestRecorder
) -> None:
    """A next link on another host is only a flag: every request goes to the API origin.

    The sandbox puts the foreign link on the last page too, so the client asks the API for
    page 4, and its 404 ends the list.
    """
    sandbox.faults.add("foreign_next", times=None)

    products = client.list_products()

    assert len(products) == 250
    assert len(recorder.requests) == 4
    for url in recorder.urls:
        assert url.startswith(client.origin + "/api/v1/catalog/products/")
    entries = api_requests(sandbox, 4)
    assert [entry["status"] for entry in entries] == [200, 200, 200, 404]
    assert all(entry["authorization"] for entry in entries)


def test_request_headers(client: KelviqClient, sandbox: SandboxServer, recorder: RequestRecorder) -> None:
    """Requests carry the bearer key, JSON headers and the app's User-Agent."""
    client.get_product(sandbox.catalog.well_known["ten"])

    headers = recorder.requests[0].headers
    assert headers["Authorization"] == f"Bearer {sandbox.api_key}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"gallery-editor/{__version__}"


def test_key_only_sent_to_api_origin(sandbox: SandboxServer) -> None:
    """The client's auth leaves the key off a request for any other origin."""
    with KelviqClient(sandbox.api_url, sandbox.api_key) as client:
        auth = client._http.auth  # noqa: SLF001 - the header rule lives in the auth object
        assert auth is not None
        other_port = httpx.Request("GET", sandbox.media_url + "media/x.png")
        same_origin = httpx.Request("GET", sandbox.api_url + "/catalog/products/")

        assert "Authorization" not in next(auth.sync_auth_flow(other_port)).headers
        assert "Authorization" in next(auth.sync_auth_flow(same_origin)).headers
        assert sandbox.api_key not in repr(auth)


def test_logs_one_line_per_request_without_key(
    client: KelviqClient, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs one INFO line with method, path, status and time, and never the key."""
    sandbox.faults.add("status:503", method="GET")

    with caplog.at_level(logging.DEBUG):
        client.get_product(sandbox.catalog.well_known["ten"])

    request_lines = [record.getMessage() for record in caplog.records if record.name == "gallery_editor.api.client"]
    path = f"/api/v1/catalog/products/{sandbox.catalog.well_known['ten']}/"
    assert len(request_lines) == 2
    assert request_lines[0].startswith(f"GET {path} 503 ")
    assert request_lines[1].startswith(f"GET {path} 200 ")
    assert all(line.endswith(" ms") for line in request_lines)
    assert sandbox.api_key not in caplog.text
    assert not [record for record in caplog.records if record.name.startswith(("httpx", "httpcore"))]
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_client_shared_between_threads(client: KelviqClient, sandbox: SandboxServer) -> None:
    """One client serves parallel calls from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    product_ids = sandbox.catalog.product_ids()[:16]

    with ThreadPoolExecutor(max_workers=8) as pool:
        products = list(pool.map(client.get_product, product_ids))

    assert [product.id for product in products] == product_ids
