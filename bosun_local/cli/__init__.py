"""The bosun-local command line."""
from bosun_local.cli.main import cli, main

__all__ = ["cli", "main"]
