"""What a plausible figure looks like: the size, depth, counts and time window every record and ingest entry keeps.

One record must never stop an agent or stick an absurd figure into every window, so each reader checks these
before it trusts a record (the agent) or stores a figure (the service). A record outside them is dead-lettered
(agent) or refused with a 422 (service) with a reason naming the bound.
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

# The largest message any transport carries (the filesystem spool's); a longer record is a reject, unread.
MAX_RECORD_BYTES = 100 << 20
# datarobot-mlops records nest 4 levels at most (data.features.<name>[row]); 32 leaves room for events' data.
MAX_DEPTH = 32
# Predictions, rows or errors one record or one minute of one deployment may count: ~16 M a second.
MAX_COUNT = 10**9
# Clocks of the apps that report may run a little ahead; a record dated later than this is refused.
MAX_AHEAD = timedelta(hours=1)
# Older figures would be purged at once by retention anyway; a record older than this is a broken clock.
MAX_AGE = timedelta(days=3650)
_CONTAINERS = (dict, list)
# The reporting library's own timestamp form, always UTC ('2026-11-21 19:43:07.883+0000'); group 1 is its minute.
_LIBRARY_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d):[0-5]\d\.\d{3}\+0000")
# Epoch seconds of each minute seen (None: not a date); a record stream repeats a few minutes, so this stays small.
_minute_starts: dict[str, float | None] = {}
_MINUTES_KEPT = 4096
_UNSEEN = -1.0


def too_deep(text: str, doc: Any, limit: int = MAX_DEPTH) -> bool:
    """Return True when the decoded JSON nests deeper than limit (text is what it was decoded from)."""
    if text.count("[") + text.count("{") <= limit:  # fewer brackets than the limit: no need to walk it
        return False
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:  # a loop, not recursion: the depth being checked may be the interpreter's limit
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, _CONTAINERS):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def plausible_library_time(text: str) -> bool:
    """Return True for a library-form time whose whole minute lies in the plausible window (no datetime per call).

    False only means "not shown this way": the caller then parses the text in full, which names what is wrong.
    """
    match = _LIBRARY_TIME.fullmatch(text)
    if match is None:
        return False
    minute = match.group(1)
    start = _minute_starts.get(minute, _UNSEEN)
    if start == _UNSEEN:
        try:
            start = datetime.fromisoformat(f"{minute}:00+00:00").timestamp()
        except ValueError:  # month 13, February 30th: the full parse says so
            start = None
        if len(_minute_starts) >= _MINUTES_KEPT:
            _minute_starts.clear()
        _minute_starts[minute] = start
    if start is None:
        return False
    now = time.time()
    return now - MAX_AGE.total_seconds() <= start and start + 60 <= now + MAX_AHEAD.total_seconds()


def time_problem(moment: datetime, now: datetime | None = None) -> str | None:
    """Return why a figure's time is implausible (too far ahead of now, or too old), None when it is fine."""
    now = now or datetime.now(UTC)
    if moment > now + MAX_AHEAD:
        return (f"is {moment.isoformat()}, more than {MAX_AHEAD.total_seconds() / 3600:g} h ahead of the "
                f"receiver's clock ({now.isoformat(timespec='seconds')}): fix the reporting host's clock")
    if moment < now - MAX_AGE:
        return f"is {moment.isoformat()}, more than {MAX_AGE.days} days old: fix the reporting host's clock"
    return None


def count_problem(value: Any) -> str | None:
    """Return why a count is implausible (not an integer in 0..MAX_COUNT), None when it is fine."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return f"must be an integer >= 0, got {short(value)}"
    if value > MAX_COUNT:
        return f"is {short(value)}, over the plausible maximum of {MAX_COUNT:,} for one record"
    return None


def short(value: Any, limit: int = 80) -> str:
    """Return a value's repr cut to limit characters, so a reason never carries a whole hostile value."""
    try:
        big = isinstance(value, int) and abs(value) >= 10**50
        text = f"a {len(str(abs(value)))}-digit number" if big else repr(value)
    except (ValueError, RecursionError):  # ints past int_max_str_digits, containers at the recursion limit
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
