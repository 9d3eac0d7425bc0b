"""The installed package carries every module, the icons and the sandbox's OpenAPI file."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def declared_packages() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["tool"]["setuptools"]["packages"])


def test_every_source_package_is_declared() -> None:
    """Each folder with an __init__.py under gallery_editor/ is listed in pyproject.toml."""
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "gallery_editor").rglob("__init__.py")
    }
    missing = found - declared_packages()
    assert not missing, f"add these to [tool.setuptools] packages: {sorted(missing)}"


def test_icons_folder_exists() -> None:
    """The icons that reach the package as gallery_editor.resources.icons exist."""
    assert sorted((ROOT / "resources" / "icons").glob("*.svg"))


def test_sandbox_openapi_file_is_package_data() -> None:
    """The OpenAPI file the sandbox serves sits inside the sandbox package."""
    assert (ROOT / "gallery_editor" / "sandbox" / "openapi.yaml").is_file()


def test_test_file_names_are_unique() -> None:
    """Test modules need distinct names: pytest imports them by base name."""
    names = [
        path.name for path in (ROOT / "tests").rglob("test_*.py")
    ]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"rename these test modules: {duplicates}"
