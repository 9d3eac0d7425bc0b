"""Kelviq-compatible loopback API and media server for tests, the demo and the sandbox command."""

from gallery_editor.sandbox.config import SandboxConfig
from gallery_editor.sandbox.server import SandboxServer

__all__ = ["SandboxConfig", "SandboxServer"]
