"""Errors routes raise: an HTTP status plus a message naming the thing and the fix."""
from __future__ import annotations

import errno
import sqlite3

from bosun_local.errors import BosunError

# A full filesystem (or quota) under the data dir; PostgreSQL's disk_full SQLSTATE.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PG_DISK_FULL = "53100"


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


def out_of_space(exc: BaseException, place: str) -> ApiError | None:
    """Return a 507 naming place and the fix when exc (or what caused it) is a full disk; else None."""
    seen: BaseException | None = exc
    while seen is not None:
        full = (isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS) \
            or (isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL) \
            or getattr(seen, "sqlstate", None) == _PG_DISK_FULL
        if full:
            return ApiError(507, f"the service's storage is full: {place} has no space left ({seen}); nothing of "
                                 "this request was stored",
                            "free space there (`df -h`), then retry: the agents hold their records and results "
                            "and retry on their own")
        seen = seen.__cause__ or seen.__context__
    return None
