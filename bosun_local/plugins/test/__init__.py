"""The test plugin: sleeps instead of deploying and records each deployment in a YAML file."""
from __future__ import annotations

from bosun_local.plugins.test.plugin import BosunTestPlugin

__all__ = ["BosunTestPlugin"]
