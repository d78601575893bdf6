"""Errors routes raise: an HTTP status plus a message naming the thing and the fix."""
from __future__ import annotations

from bosun_local.errors import BosunError


class ApiError(BosunError):
    """A request the service refuses; rendered as `{"detail": "<message>; fix: <fix>"}`."""

    def __init__(self, status_code: int, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix)
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.message}; fix: {self.fix}" if self.fix else self.message


def not_found(kind: str, ref: str, list_command: str) -> ApiError:
    """Return the 404 of an unknown resource reference."""
    return ApiError(404, f"{kind} {ref!r} not found", f"list {kind}s with `bosun-local {list_command}`")


def conflict(message: str, fix: str | None = None) -> ApiError:
    """Return a 409: the request clashes with the resource's current state."""
    return ApiError(409, message, fix)


def invalid(message: str, fix: str | None = None) -> ApiError:
    """Return a 422: the request is well-formed but its content is wrong."""
    return ApiError(422, message, fix)
