"""The `--screenshot` command and the whole corpus opened through `--images-dir`."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[2]
COUNTS = re.compile(r"^thumbnails loaded=(\d+) broken=(\d+) pending=(\d+)$")


def run_screenshot(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    environment.pop("KELVIQ_API_KEY", None)
    return subprocess.run(
        [
            sys.executable, "-m", "gallery_editor", "--demo",
            "--data-dir", str(tmp_path / "data"),
            "--screenshot", str(tmp_path / "window.png"),
            *options,
        ],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.timeout(260)
def test_demo_screenshot_prints_counts(tmp_path: Path) -> None:
    """The demo product's ten thumbnails load, the PNG is written, the counts printed."""
    result = run_screenshot(tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == ["thumbnails loaded=10 broken=0 pending=0"]
    with Image.open(tmp_path / "window.png") as picture:
        assert picture.width >= 800
        assert picture.height >= 500
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(260)
def test_corpus_through_images_dir(tmp_path: Path, corpus_dir: Path) -> None:
    """Every corpus file becomes a thumbnail or a placeholder, and the app exits cleanly."""
    files = [
        path for path in (corpus_dir / "images").iterdir()
        if path.is_file() and not path.name.startswith(".")
    ]
    with (corpus_dir / "MANIFEST.tsv").open(encoding="utf-8") as manifest:
        rows = [row for row in csv.DictReader(manifest, delimiter="\t")]
    openable = sum(
        1 for row in rows if row["path"].startswith("images/") and row["opens"] == "yes"
    )

    result = run_screenshot(tmp_path, "--images-dir", str(corpus_dir / "images"))

    assert result.returncode == 0, result.stderr
    match = COUNTS.match(result.stdout.strip().splitlines()[-1])
    assert match is not None, result.stdout
    loaded, broken, pending = (int(value) for value in match.groups())
    assert loaded + broken + pending == len(files)
    # Files still pending when the picture is taken are off screen; none may be lost.
    assert loaded <= openable
    assert "Traceback" not in result.stderr
