"""Errors users can act on: each names the thing, the place and the fix."""
from __future__ import annotations


class BosunError(Exception):
    """Base error of bosun-local; rendered to users as message plus fix, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message

    def one_line(self) -> str:
        """Return the message and its fix on one line, as a plugin's status message carries them."""
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class ConfigError(BosunError):
    """A configuration file or value is invalid."""


class UsageError(BosunError):
    """The command was called wrongly."""

    exit_code = 2


class EngineError(BosunError):
    """The Docker engine or a Compose call failed."""


class ImageBuildError(BosunError):
    """An image could not be built."""
