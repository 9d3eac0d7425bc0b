"""Kelviq-compatible loopback server with a media port, used by tests, ``--demo`` and ``gallery-editor sandbox``."""

from gallery_editor.sandbox.config import SandboxConfig
from gallery_editor.sandbox.server import SandboxServer

__all__ = ["SandboxConfig", "SandboxServer"]
