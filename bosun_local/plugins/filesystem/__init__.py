"""The filesystem plugin: one directory per deployment, the layout the PPS multi-model mode serves."""
from __future__ import annotations

from bosun_local.plugins.filesystem.plugin import FilesystemPlugin

__all__ = ["FilesystemPlugin"]
