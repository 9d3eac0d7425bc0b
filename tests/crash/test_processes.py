"""The app and the sandbox in separate processes: offline editing and a conflict while saving."""

from __future__ import annotations

from pathlib import Path

import pytest

from crash_support import AppProcess, SandboxProcess, server_state, working_state

pytestmark = pytest.mark.timeout(120)


def test_offline_copy_saves_after_restart(tmp_path: Path, app_dir: Path) -> None:
    sandbox_dir, log = tmp_path / "sandbox", tmp_path / "requests.jsonl"
    sandbox = SandboxProcess(sandbox_dir, log)
    address = sandbox.address
    try:
        product_id = sandbox.well_known("ten")
        app = AppProcess(address, app_dir, product_id)
        app.send("open", id=product_id)
        app.quit()
    finally:
        sandbox.stop()

    app = AppProcess(address, app_dir, product_id)
    try:
        assert app.send("open", id=product_id)["offline"] is True
        order = list(app.send("state")["order"])
        app.send("rename", id=order[1], name="Renamed offline")
        app.send("move", ids=[order[0]], row=len(order))
        progress = app.send("save_state")
        assert progress["online"] is False
        assert app.send("save")["waiting"] is True
        intended = working_state(app.send("state"))

        restarted = SandboxProcess(
            sandbox_dir, log, port=address.api_port, media_port=address.media_port, api_key=address.api_key
        )
        try:
            app.send("retry_now")
            result = app.send("wait_idle")
            assert result["status"] == "saved", result
            assert result["online"] is True
            assert server_state(restarted.product(product_id)) == intended
        finally:
            restarted.stop()
    finally:
        app.quit()


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_conflict_resolved_through_app(
    sandbox_process: SandboxProcess, app_dir: Path, choice: str
) -> None:
    product_id = sandbox_process.well_known("sixty")
    app = AppProcess(sandbox_process.address, app_dir, product_id)
    try:
        app.send("open", id=product_id)
        state = app.send("state")
        order = list(state["order"])
        shown = not state["fields"][order[1]]["enabled"]
        # The module shares one sandbox, so each case writes names of its own.
        mine, theirs = f"Mine ({choice})", f"Theirs ({choice})"
        app.send("rename", id=order[0], name=mine)
        app.send("enable", ids=[order[1]], enabled=shown)
        sandbox_process.change_image(product_id, order[0], name=theirs)

        app.send("save")
        result = app.send("wait_idle")
        assert result["status"] == "conflicts", result
        app.send("resolve_conflicts", choice=choice)
        result = app.send("wait_idle")
        assert result["status"] == "saved", result

        server = sandbox_process.product(product_id)
        first = server.image_by_id(order[0])
        assert first is not None
        assert first.name == (mine if choice == "mine" else theirs)
        second = server.image_by_id(order[1])
        assert second is not None
        assert second.enabled is shown
        assert server_state(server) == working_state(app.send("state"))
    finally:
        app.quit()
