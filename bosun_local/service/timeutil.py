"""Timestamps on the wire and in storage: fixed-width ISO 8601 UTC strings that sort as text."""
from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SEC = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def new_id() -> str:
    """Return a new 24-char lowercase hex id (the contract's id format)."""
    return secrets.token_hex(12)


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Return a datetime as the fixed-width UTC string stored and sent everywhere."""
    return moment.astimezone(UTC).strftime(_FORMAT)


def now_iso() -> str:
    """Return the current time as a stored timestamp."""
    return iso(utcnow())


def minute_iso(moment: datetime) -> str:
    """Return the start of a datetime's minute as `YYYY-MM-DDTHH:MM:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def parse_duration(text: str) -> float:
    """Return seconds of a duration given as plain seconds or `90s`, `15m`, `2h`, `7d`, `1w`; ValueError otherwise."""
    match = _RELATIVE.match(text)
    if match:
        return float(match.group(1)) * _UNIT_SEC[match.group(2)]
    return float(text)


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """Parse an ISO 8601 time or a relative age such as `90s`, `15m`, `2h`, `7d` (that long ago)."""
    match = _RELATIVE.match(text)
    if match:
        return (now or utcnow()) - timedelta(seconds=float(match.group(1)) * _UNIT_SEC[match.group(2)])
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
