"""Save engine against the in-process sandbox over loopback."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace

import httpx
import pytest

from gallery_editor.api import ApiError, KelviqClient, RetryPolicy
from gallery_editor.domain.models import Product, TargetImage
from gallery_editor.domain.planner import plan_patches
from gallery_editor.journal import Journal
from gallery_editor.sandbox import SandboxServer
from gallery_editor.save import SaveEngine, SaveProgress, SaveRequest
from gallery_editor.save.verify import compare
from tests.save.conftest import QUICK_RETRY, make_client, patch_requests, start_sandbox, target_of


def _request(client: KelviqClient, base: Product, target: list[TargetImage], **options: object) -> SaveRequest:
    return SaveRequest(client.base_url, base.id, base, target, **options)  # type: ignore[arg-type]


def _move_last_to_front(target: list[TargetImage]) -> list[TargetImage]:
    return target[-1:] + target[:-1]


def _rename(target: list[TargetImage], index: int, name: str) -> list[TargetImage]:
    changed = list(target)
    changed[index] = replace(changed[index], name=name)
    return changed


def _star(target: list[TargetImage], index: int) -> list[TargetImage]:
    return [replace(wanted, thumbnail=position == index) for position, wanted in enumerate(target)]


def _assert_server_matches(client: KelviqClient, product_id: str, target: list[TargetImage]) -> None:
    comparison = compare(client.get_product(product_id), target)
    assert comparison.server_order == comparison.target_order
    assert comparison.fields == []


def _load(client: KelviqClient, product_id: str) -> Product:
    return client.get_product(product_id)


# -- typical edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    ["move_to_front", "reverse", "rename_two", "star", "hide", "move_and_rename"],
)
def test_typical_edit_sends_planned_patches(sandbox: SandboxServer, client: KelviqClient, edit: str) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = target_of(product)
    if edit == "move_to_front":
        target = _move_last_to_front(target)
    elif edit == "reverse":
        target.reverse()
    elif edit == "rename_two":
        target = _rename(_rename(target, 2, "Side view"), 5, "Back")
    elif edit == "star":
        starred = next((i for i, wanted in enumerate(target) if not wanted.thumbnail), 0)
        target = _star(target, starred)
    elif edit == "hide":
        target[3] = replace(target[3], enabled=not target[3].enabled)
    else:
        target = _rename(_move_last_to_front(target), 0, "Hero")
    planned = plan_patches(product, target)
    sandbox.request_log.clear()

    report = SaveEngine(client).save(_request(client, product, target))

    assert report.status == "saved", report.summary
    assert report.verified
    assert not report.used_fallback
    sent = patch_requests(sandbox)
    sent_bodies = {str(entry["path"]).rstrip("/").rsplit("/", 1)[-1]: entry["body"] for entry in sent}
    assert len(sent) == len(planned)
    assert sent_bodies == {patch.image_id: patch.body for patch in planned}
    assert report.patches_sent == len(planned)
    _assert_server_matches(client, product.id, target)


def test_nothing_changed_sends_nothing(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    sandbox.request_log.clear()

    report = SaveEngine(client).save(_request(client, product, target_of(product)))

    assert report.status == "saved"
    assert report.patches_sent == 0
    assert patch_requests(sandbox) == []
    assert "Nothing to save" in report.summary


def test_progress_counts_every_response(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = list(reversed(target_of(product)))
    seen: list[SaveProgress] = []

    report = SaveEngine(client, concurrency=3).save(_request(client, product, target), progress=seen.append)

    assert report.status == "saved"
    assert len(seen) == report.patches_sent
    assert sorted(item.done for item in seen) == list(range(1, report.patches_sent + 1))
    assert seen[-1].message == f"Saving {report.patches_sent} of {report.patches_sent}"


def test_journal_records_acknowledged_patches(
    sandbox: SandboxServer, client: KelviqClient, journal: Journal
) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = _rename(target_of(product), 1, "Detail")
    sandbox.faults.add("status:400", path=target[1].id, method="PATCH")
    target = _rename(_move_last_to_front(target), 4, "Close-up")

    report = SaveEngine(client, journal=journal).save(_request(client, product, target))

    assert report.status == "partial"
    unacknowledged = journal.unacknowledged(client.base_url, product.id)
    # The rejected PATCH was sent but never acknowledged; every other one was.
    assert [patch.image_id for patch in unacknowledged] == [target[2].id]
    sent = journal.sent_values(client.base_url, product.id)
    assert len(sent) == report.patches_sent


# -- failures and retries -----------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_random_failures_end_in_intended_state() -> None:
    server = start_sandbox(fail_rate=0.3)
    try:
        with make_client(server) as client:
            product = _load_with_retries(client, server.catalog.well_known["ten"])
            target = target_of(product)
            random.Random(7).shuffle(target)
            target = _rename(_star(target, 4), 2, "Shuffled")

            report = SaveEngine(client, retry=QUICK_RETRY, concurrency=4).save(_request(client, product, target))

            assert report.status == "saved", report.summary + " " + repr(report.failed)
            assert report.verified
            failures = [entry for entry in server.request_log if entry["status"] in (None, 500, 503)]
            assert failures, "fail_rate=0.3 should have made some requests fail"
            final = _load_with_retries(client, product.id)
            assert [image.id for image in final.images_in_order()] == [wanted.id for wanted in target]
            assert compare(final, target).fields == []
    finally:
        server.stop()


def _load_with_retries(client: KelviqClient, product_id: str) -> Product:
    for _ in range(20):
        try:
            return _load(client, product_id)
        except ApiError:
            continue
    raise AssertionError("the sandbox never answered GET of the product")


@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limit_lowers_concurrency_and_saves(retry_after: bool) -> None:
    server = start_sandbox(rate_limit=5, retry_after=retry_after)
    retries: list[int] = []
    policy = RetryPolicy(
        attempts=30, base_delay=0.05, max_delay=0.3, retry_after_cap=1.0, on_retry=lambda _e, n: retries.append(n)
    )
    try:
        with make_client(server) as client:
            product = _load_with_retries(client, server.catalog.well_known["ten"])
            target = list(reversed(target_of(product)))

            report = SaveEngine(client, retry=policy, concurrency=4).save(_request(client, product, target))

            assert report.status == "saved", report.summary
            statuses = [entry["status"] for entry in server.request_log]
            assert 429 in statuses
            assert retries, "the engine's policy should have retried the 429 responses"
    finally:
        server.stop()


def test_rate_limit_drops_concurrency_to_one() -> None:
    server = start_sandbox(latency_ms=30)
    intervals: list[tuple[str, float, float]] = []
    started: dict[int, tuple[str, float]] = {}
    lock = threading.Lock()

    def on_request(request: httpx.Request) -> None:
        if request.method == "PATCH":
            with lock:
                started[id(request)] = (request.url.path, time.monotonic())

    def on_response(response: httpx.Response) -> None:
        with lock:
            begun = started.pop(id(response.request), None)
            if begun is not None:
                intervals.append((begun[0], begun[1], time.monotonic()))

    try:
        for _ in range(4):
            server.faults.add("status:429", method="PATCH")
        hooks = {"request": [on_request], "response": [on_response]}
        with KelviqClient(
            server.api_url, server.api_key, media_url=server.media_url,
            retry=RetryPolicy.none(), event_hooks=hooks,
        ) as client:
            product = _load(client, server.catalog.well_known["ten"])
            target = [replace(wanted, name=f"Name {index}") for index, wanted in enumerate(target_of(product))]

            report = SaveEngine(client, retry=QUICK_RETRY, concurrency=4).save(_request(client, product, target))

        assert report.status == "saved", report.summary
        first_wave = {path for path, _, _ in sorted(intervals, key=lambda item: item[1])[:4]}
        wave_end = max(end for path, _, end in intervals if path in first_wave)
        later = sorted((begin, end) for path, begin, end in intervals if begin >= wave_end)
        assert len(later) >= 5
        # After four 429 responses the limit is one request in flight.
        for (_, first_end), (second_begin, _) in zip(later, later[1:]):
            assert second_begin >= first_end
    finally:
        server.stop()


def test_validation_error_keeps_one_image_pending(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = _rename(_rename(_rename(target_of(product), 1, "One"), 3, "Three"), 6, "Six")
    rejected = target[3].id
    sandbox.faults.add("status:400", path=rejected, method="PATCH", times=10)

    report = SaveEngine(client, retry=QUICK_RETRY).save(_request(client, product, target))

    assert report.status == "partial"
    assert list(report.failed) == [rejected]
    server = client.get_product(product.id)
    assert server.image_by_id(target[1].id).name == "One"
    assert server.image_by_id(target[6].id).name == "Six"
    assert server.image_by_id(rejected).name != "Three"
    assert any("rejected" in message for message in report.messages)


def test_authentication_error_stops_all_writes(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = list(reversed(target_of(product)))
    sandbox.faults.add("status:401", method="PATCH", times=100)
    sandbox.request_log.clear()

    report = SaveEngine(client, concurrency=1).save(_request(client, product, target))

    assert report.status == "auth_failed"
    assert len(patch_requests(sandbox)) == 1
    assert report.failed


def test_wrong_key_on_first_read_is_auth_failure(sandbox: SandboxServer) -> None:
    with KelviqClient(sandbox.api_url, "wrong-key", media_url=sandbox.media_url, retry=RetryPolicy.none()) as client:
        product = Product(id=sandbox.catalog.well_known["ten"], name="x")
        report = SaveEngine(client).save(_request(client, product, []))
    assert report.status == "auth_failed"
    assert report.patches_sent == 0


def test_unreachable_server_reported() -> None:
    server = start_sandbox()
    api_url, api_key, media_url = server.api_url, server.api_key, server.media_url
    product_id = server.catalog.well_known["ten"]
    server.stop()
    with KelviqClient(api_url, api_key, media_url=media_url, retry=RetryPolicy.none()) as client:
        report = SaveEngine(client).save(_request(client, Product(product_id, "x"), []))
    assert report.status == "unreachable"


def test_not_found_drops_deleted_image(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = _rename(_rename(target_of(product), 2, "Stays"), 5, "Gone soon")
    doomed = target[5].id

    def delete_after_first_response(progress: SaveProgress) -> None:
        # A colleague deletes the image after the engine's read, before its PATCH is sent.
        if progress.done == 1:
            sandbox.catalog.delete_image(product.id, doomed)

    report = SaveEngine(client, concurrency=1).save(
        _request(client, product, target), progress=delete_after_first_response
    )

    assert report.status == "saved", report.summary
    assert [image_id for image_id, _ in report.dropped] == [doomed]
    assert any("Gone soon" in message and "deleted" in message for message in report.messages)
    server = client.get_product(product.id)
    assert server.image_by_id(target[2].id).name == "Stays"
    assert server.image_by_id(doomed) is None


def test_not_found_for_existing_image_stays_pending(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = _rename(target_of(product), 2, "Flaky")
    sandbox.faults.add("status:404", path=target[2].id, method="PATCH", times=100)

    report = SaveEngine(client).save(_request(client, product, target))

    assert report.status == "failed"
    assert list(report.failed) == [target[2].id]
    assert report.dropped == []


def test_cancel_leaves_unsent_pending(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = _load(client, sandbox.catalog.well_known["ten"])
    target = [replace(wanted, name=f"Renamed {index}") for index, wanted in enumerate(target_of(product))]
    cancel = threading.Event()

    def cancel_after_three(progress: SaveProgress) -> None:
        if progress.done == 3:
            cancel.set()

    report = SaveEngine(client, concurrency=1).save(
        _request(client, product, target), progress=cancel_after_three, cancel=cancel
    )

    assert report.status == "cancelled"
    assert report.patches_sent == 3
    assert len(report.failed) == len(target) - 3
    server = client.get_product(product.id)
    renamed = [image for image in server.images if (image.name or "").startswith("Renamed")]
    assert len(renamed) == 3


# -- verification and the dense fallback -------------------------------------------------------


def test_position_semantics_fixed_by_fallback() -> None:
    server = start_sandbox(ordering_semantics="position")
    try:
        with make_client(server) as client:
            product = _load(client, server.catalog.well_known["two_hundred"])
            # A reversal planned for stored values lands in a different order when each
            # write shifts the others and requests arrive out of order. With 199 requests,
            # 4 in flight, an arrival order that happens to work is practically impossible.
            target = list(reversed(target_of(product)))

            report = SaveEngine(client, concurrency=4).save(_request(client, product, target))

            assert report.status == "saved", report.summary
            assert report.used_fallback
            assert report.verified
            _assert_server_matches(client, product.id, target)
    finally:
        server.stop()


def test_verification_reports_remaining_difference() -> None:
    server = start_sandbox(ordering_semantics="position")
    try:
        with make_client(server) as client:
            product = _load(client, server.catalog.well_known["ten"])
            target = list(reversed(target_of(product)))
            planned = len(plan_patches(product, target))
            intruder = target[4].id

            def move_after_fallback(progress: SaveProgress) -> None:
                # A colleague moves one image after the last request of the plan and of the fallback.
                if progress.total >= planned and progress.done == progress.total:
                    server.catalog.set_image_fields(product.id, intruder, ordering=0)

            report = SaveEngine(client, concurrency=1).save(
                _request(client, product, target), progress=move_after_fallback
            )

            assert report.status != "saved"
            assert report.used_fallback
            assert not report.verified
            assert any("still differs" in message for message in report.messages)
            assert "still shows a different gallery" in report.summary
    finally:
        server.stop()
