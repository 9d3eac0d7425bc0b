"""The `export` and `apply` commands against sandboxes over loopback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gallery_editor import headless
from gallery_editor.api import KelviqClient, RetryPolicy
from gallery_editor.domain.arrangement import parse_arrangement
from gallery_editor.domain.planner import plan_patches
from gallery_editor.sandbox import SandboxServer
from tests.headless.conftest import REPOSITORY, ChildSandbox, cli_environment, run_cli


def _apply_args(file: Path | str, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    headless.add_apply_arguments(parser)
    return parser.parse_args([str(file), *extra])


def _export(client: KelviqClient, product_id: str, capsys: pytest.CaptureFixture[str]) -> dict:
    parser = argparse.ArgumentParser()
    headless.add_export_arguments(parser)
    code = headless.run_export(parser.parse_args(["--product", product_id]), client)
    assert code == 0
    return json.loads(capsys.readouterr().out)


def _edit(document: dict) -> dict:
    """Move the last image to the front and rename the second one."""
    images = document["images"]
    images.insert(0, images.pop())
    images[1]["name"] = "Edited"
    return document


def _write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _server_order(client: KelviqClient, product_id: str) -> list[str]:
    return [image.id for image in client.get_product(product_id).images_in_order()]


def test_export_prints_only_document(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str]
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _export(client, product_id, capsys)
    arrangement = parse_arrangement(document)
    assert arrangement.product_id == product_id
    assert [t.id for t in arrangement.images] == _server_order(client, product_id)
    assert arrangement.base is not None


def test_dry_run_json_matches_planner(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _edit(_export(client, product_id, capsys))
    file = _write(tmp_path / "edited.json", document)
    sandbox.request_log.clear()

    code = headless.run_apply(_apply_args(file, "--dry-run", "--json"), client, tmp_path / "data")

    captured = capsys.readouterr()
    assert code == 0
    lines = [json.loads(line) for line in captured.out.splitlines()]
    expected = plan_patches(client.get_product(product_id), list(parse_arrangement(document).images))
    assert lines == [{"image": patch.image_id, "body": patch.body} for patch in expected]
    assert [entry for entry in sandbox.request_log if entry["method"] == "PATCH"] == []
    assert not (tmp_path / "data").exists()


def test_apply_saves_and_exits_zero(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _edit(_export(client, product_id, capsys))
    file = _write(tmp_path / "edited.json", document)

    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("PATCH ")
    assert "the server shows the intended gallery" in captured.err
    assert _server_order(client, product_id) == [image["id"] for image in document["images"]]


def test_apply_conflict_exits_four_unless_forced(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _edit(_export(client, product_id, capsys))
    edited_id = document["images"][1]["id"]
    sandbox.catalog.set_image_fields(product_id, edited_id, name="Colleague")
    file = _write(tmp_path / "edited.json", document)

    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")
    captured = capsys.readouterr()
    assert code == 4
    assert "'Edited'" in captured.err
    assert "'Colleague'" in captured.err
    assert client.get_product(product_id).image_by_id(edited_id).name == "Colleague"

    forced = headless.run_apply(_apply_args(file, "--force"), client, tmp_path / "data")
    assert forced == 0
    assert client.get_product(product_id).image_by_id(edited_id).name == "Edited"


def test_apply_unknown_image_rejected(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _export(client, product_id, capsys)
    document["images"].append({"id": "not-an-image", "name": "Ghost", "thumbnail": False, "enabled": True})
    file = _write(tmp_path / "bad.json", document)

    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")

    assert code == 1
    assert "not-an-image" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["{not json", '{"product": 5}'])
def test_apply_bad_document_exits_one(
    client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(text, encoding="utf-8")
    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "bad.json" in captured.err


def test_apply_without_base_warns(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _edit(_export(client, product_id, capsys))
    del document["base"]
    file = _write(tmp_path / "nobase.json", document)

    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")

    assert code == 0
    assert "no 'base'" in capsys.readouterr().err


def test_apply_unreachable_exits_three(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = SandboxServer().start()
    api_url, api_key, media_url = server.api_url, server.api_key, server.media_url
    product_id = server.catalog.well_known["ten"]
    server.stop()
    file = _write(tmp_path / "a.json", {"product": product_id, "images": []})
    with KelviqClient(api_url, api_key, media_url=media_url, retry=RetryPolicy.none()) as client:
        code = headless.run_apply(_apply_args(file), client, tmp_path / "data")
    assert code == 3


def test_apply_wrong_key_exits_three(sandbox: SandboxServer, tmp_path: Path) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    file = _write(tmp_path / "a.json", {"product": product_id, "images": []})
    result = run_cli(
        ["apply", str(file), "--base-url", sandbox.api_url, "--media-url", sandbox.media_url],
        api_key="wrong-key",
        data_dir=tmp_path / "data",
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""


def test_apply_failure_exits_one(
    sandbox: SandboxServer, client: KelviqClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    document = _edit(_export(client, product_id, capsys))
    sandbox.faults.add("status:422", path=document["images"][1]["id"], method="PATCH", times=50)
    file = _write(tmp_path / "edited.json", document)

    code = headless.run_apply(_apply_args(file), client, tmp_path / "data")

    assert code == 1
    assert "Pending" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_apply_killed_halfway_then_rerun(child_sandbox: ChildSandbox, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    common = ["--base-url", child_sandbox.api_url, "--media-url", child_sandbox.media_url]
    with KelviqClient(child_sandbox.api_url, child_sandbox.api_key, media_url=child_sandbox.media_url) as client:
        product_id = next(p.id for p in client.iter_products() if len(p.images) == 60)
        exported = run_cli(["export", "--product", product_id, *common], api_key=child_sandbox.api_key, data_dir=data_dir)
        assert exported.returncode == 0, exported.stderr
        document = json.loads(exported.stdout)
        document["images"].reverse()
        for index, image in enumerate(document["images"][:20]):
            image["name"] = f"Reversed {index}"
        file = _write(tmp_path / "reversed.json", document)

        process = _start_apply(file, common, child_sandbox, data_dir)
        _wait_for_patches(child_sandbox.log_file, count=6)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        applied_before_rerun = _patch_count(child_sandbox.log_file)
        assert applied_before_rerun < 60

        rerun = run_cli(["apply", str(file), *common], api_key=child_sandbox.api_key, data_dir=data_dir, timeout=100)

        assert rerun.returncode == 0, rerun.stderr
        assert _server_order(client, product_id) == [image["id"] for image in document["images"]]
        server = client.get_product(product_id)
        assert server.image_by_id(document["images"][0]["id"]).name == "Reversed 0"


def _start_apply(file: Path, common: list[str], sandbox: ChildSandbox, data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gallery_editor", "apply", str(file), *common, "--data-dir", str(data_dir)],
        cwd=REPOSITORY,
        env=cli_environment(sandbox.api_key),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _patch_count(log_file: Path) -> int:
    if not log_file.exists():
        return 0
    lines = log_file.read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines if line.strip() and json.loads(line).get("method") == "PATCH")


def _wait_for_patches(log_file: Path, *, count: int) -> None:
    deadline = time.monotonic() + 60
    while _patch_count(log_file) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} PATCH requests reached the sandbox within 60 s")
        time.sleep(0.05)


def test_apply_reads_standard_input(sandbox: SandboxServer, client: KelviqClient, tmp_path: Path) -> None:
    product_id = sandbox.catalog.well_known["ten"]
    common = ["--base-url", sandbox.api_url, "--media-url", sandbox.media_url]
    exported = run_cli(["export", "--product", product_id, *common], api_key=sandbox.api_key, data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = _edit(json.loads(exported.stdout))

    result = run_cli(
        ["apply", "-", "--dry-run", *common], api_key=sandbox.api_key, data_dir=tmp_path, stdin=json.dumps(document)
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = plan_patches(client.get_product(product_id), list(parse_arrangement(document).images))
    assert lines == [headless.format_patch(patch) for patch in expected]
    assert "name='Edited'" in result.stdout
