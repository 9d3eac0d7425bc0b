"""State kept in ``data_dir`` across restarts of the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sandbox_support import image_path, ordered_ids

from gallery_editor.sandbox import SandboxConfig, SandboxServer
from gallery_editor.sandbox.persistence import STATE_FILE_NAME

pytestmark = pytest.mark.timeout(60)


def _restart(server: SandboxServer, **changes: object) -> SandboxServer:
    server.stop()
    options = {
        name: getattr(server.config, name) for name in ("seed", "data_dir", "ordering_semantics")
    }
    options.update(changes)
    return SandboxServer(SandboxConfig(**options)).start()  # type: ignore[arg-type]


def test_changes_survive_restart(
    make_sandbox: Callable[..., SandboxServer],
    make_client: Callable[..., httpx.Client],
    tmp_path: Path,
) -> None:
    server = make_sandbox(seed=5, data_dir=tmp_path)
    client = make_client(server)
    catalog = server.catalog
    ten = catalog.well_known["ten"]
    images = catalog.get_product(ten)["images"]
    client.patch(image_path(ten, images[0]["id"]), json={"name": "Renamed", "ordering": 50})
    client.patch(image_path(ten, images[4]["id"]), json={"thumbnail": True, "enabled": False})
    client.delete(image_path(ten, images[2]["id"]))
    added = catalog.add_image(catalog.well_known["empty"], name="Added")
    expected_ten = catalog.get_product(ten)
    expected_empty = catalog.get_product(catalog.well_known["empty"])
    untouched = catalog.get_product(catalog.well_known["sixty"])

    restarted = _restart(server)
    try:
        catalog = restarted.catalog
        assert _keys_only(catalog.get_product(ten), restarted) == _keys_only(expected_ten, server)
        assert _keys_only(catalog.get_product(expected_empty["id"]), restarted) == _keys_only(
            expected_empty, server
        )
        assert _keys_only(catalog.get_product(untouched["id"]), restarted) == _keys_only(
            untouched, server
        )
        added_image = catalog.get_product(expected_empty["id"])["images"][0]
        assert added_image["id"] == added
        assert httpx.get(restarted.media_url + added_image["image"], timeout=30).status_code == 200
    finally:
        restarted.stop()


def _keys_only(product: dict[str, object], server: SandboxServer) -> dict[str, object]:
    """Return the product with absolute media URLs cut to storage keys, since ports change."""
    images = [
        {**image, "image": image["image"].removeprefix(server.media_url)}
        for image in product["images"]
    ]
    return {**product, "images": images}


def test_rejected_patch_not_saved(
    make_sandbox: Callable[..., SandboxServer],
    make_client: Callable[..., httpx.Client],
    tmp_path: Path,
) -> None:
    server = make_sandbox(data_dir=tmp_path)
    client = make_client(server)
    ten = server.catalog.well_known["ten"]
    image_id = server.catalog.get_product(ten)["images"][0]["id"]
    assert client.patch(image_path(ten, image_id), json={"name": ""}).status_code == 400
    assert not (tmp_path / STATE_FILE_NAME).exists()


def test_state_file_written_atomically(
    make_sandbox: Callable[..., SandboxServer],
    make_client: Callable[..., httpx.Client],
    tmp_path: Path,
) -> None:
    server = make_sandbox(data_dir=tmp_path)
    client = make_client(server)
    ten = server.catalog.well_known["ten"]
    for image in server.catalog.get_product(ten)["images"]:
        client.patch(image_path(ten, image["id"]), json={"name": f"Saved {image['id'][:4]}"})
        state = json.loads((tmp_path / STATE_FILE_NAME).read_text())
        saved = {item["id"]: item["name"] for item in state["products"][ten]["images"]}
        assert saved[image["id"]] == f"Saved {image['id'][:4]}"
    assert [path.name for path in tmp_path.iterdir()] == [STATE_FILE_NAME]


def test_position_state_survives_restart(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = make_sandbox(data_dir=tmp_path, ordering_semantics="position")
    ten = server.catalog.well_known["ten"]
    before = ordered_ids(server.catalog.get_product(ten))
    server.catalog.set_image_fields(ten, before[0], ordering=5)
    expected = ordered_ids(server.catalog.get_product(ten))
    restarted = _restart(server)
    try:
        assert ordered_ids(restarted.catalog.get_product(ten)) == expected
    finally:
        restarted.stop()


def test_other_seed_ignores_state(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = make_sandbox(seed=1, data_dir=tmp_path)
    ten = server.catalog.well_known["ten"]
    server.catalog.set_image_fields(
        ten, server.catalog.get_product(ten)["images"][0]["id"], name="Seed one"
    )
    restarted = _restart(server, seed=2)
    try:
        names = [
            image["name"]
            for image in restarted.catalog.get_product(restarted.catalog.well_known["ten"])[
                "images"
            ]
        ]
        assert "Seed one" not in names
    finally:
        restarted.stop()


def test_corrupt_state_file_reported(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE_NAME).write_text("{not json")
    server = SandboxServer(SandboxConfig(data_dir=tmp_path))
    with pytest.raises(ValueError, match="delete it"):
        server.start()
    # The failed start released both ports, so a new server can start at once.
    with SandboxServer(SandboxConfig()) as other:
        assert other.api_port > 0
