"""Save engine with the sandbox changed by a colleague between load and save."""

from __future__ import annotations

import threading
from dataclasses import replace

from gallery_editor.api import KelviqClient
from gallery_editor.journal import Journal
from gallery_editor.sandbox import SandboxServer
from gallery_editor.save import SaveEngine, SaveProgress, SaveRequest
from tests.save.conftest import patch_requests, target_of


def test_conflict_sends_nothing(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = target_of(product)
    image_id = target[2].id
    target[2] = replace(target[2], name="Mine")
    sandbox.catalog.set_image_fields(product.id, image_id, name="Theirs")
    sandbox.request_log.clear()

    report = SaveEngine(client).save(SaveRequest(client.base_url, product.id, product, target))

    assert report.status == "conflicts"
    assert report.merge is not None
    assert [conflict.key for conflict in report.merge.conflicts] == [("field", image_id, "name")]
    assert patch_requests(sandbox) == []


def test_resolved_conflict_saves_choice(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = target_of(product)
    image_id = target[2].id
    target[2] = replace(target[2], name="Mine")
    sandbox.catalog.set_image_fields(product.id, image_id, name="Theirs")
    resolutions = {("field", image_id, "name"): "mine"}

    report = SaveEngine(client).save(
        SaveRequest(client.base_url, product.id, product, target, resolutions=resolutions)  # type: ignore[arg-type]
    )

    assert report.status == "saved", report.summary
    assert client.get_product(product.id).image_by_id(image_id).name == "Mine"


def test_server_updates_kept_while_saving(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = list(reversed(target_of(product)))
    colleague_image = target[0].id
    sandbox.catalog.set_image_fields(product.id, colleague_image, name="Colleague")
    added = sandbox.catalog.add_image(product.id, name="New on server")
    deleted = target[5].id
    sandbox.catalog.delete_image(product.id, deleted)

    report = SaveEngine(client).save(SaveRequest(client.base_url, product.id, product, target))

    assert report.status == "saved", report.summary
    server = client.get_product(product.id)
    order = [image.id for image in server.images_in_order()]
    assert order == [wanted.id for wanted in target if wanted.id != deleted] + [added]
    assert server.image_by_id(colleague_image).name == "Colleague"
    assert report.merge is not None
    assert [image_id for image_id, _ in report.merge.deleted] == [deleted]
    assert report.merge.added == [added]


def test_order_conflict_with_colleague(sandbox: SandboxServer, client: KelviqClient) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = list(reversed(target_of(product)))
    last = product.images_in_order()[-1]
    first = product.images_in_order()[0]
    sandbox.catalog.set_image_fields(product.id, last.id, ordering=max(first.ordering - 1, 0))
    sandbox.catalog.set_image_fields(product.id, first.id, ordering=last.ordering + 5)

    report = SaveEngine(client).save(SaveRequest(client.base_url, product.id, product, target))

    assert report.status == "conflicts"
    assert report.merge is not None
    assert [conflict.key for conflict in report.merge.conflicts] == [("order",)]


def test_own_writes_after_crash_are_not_conflicts(
    sandbox: SandboxServer, client: KelviqClient, journal: Journal
) -> None:
    product = client.get_product(sandbox.catalog.well_known["ten"])
    target = [replace(wanted, name=f"Step {index}") for index, wanted in enumerate(reversed(target_of(product)))]
    # A first save got halfway: its journal records exist, the second half never went out.
    cancel_after = 4
    halfway = threading.Event()

    def crash(progress: SaveProgress) -> None:
        if progress.done >= cancel_after:
            halfway.set()

    first = SaveEngine(client, journal=journal, concurrency=1).save(
        SaveRequest(client.base_url, product.id, product, target), progress=crash, cancel=halfway
    )
    assert first.status == "cancelled"
    assert len(journal.sent_values(client.base_url, product.id)) == cancel_after

    # The user changes one already-saved name again, then saves from the original base.
    target[0] = replace(target[0], name="Changed again")
    second = SaveEngine(client, journal=journal).save(SaveRequest(client.base_url, product.id, product, target))

    assert second.status == "saved", second.summary
    assert second.merge is not None
    assert second.merge.conflicts == []
    assert second.merge.server_updates == []
    assert journal.sent_values(client.base_url, product.id) == {}
