"""What a user-given name (deployment, package, environment) may be, and how to show any name on a terminal.

Names are looked up beside ids (`deployments get <id or name>`) and travel in URL paths, so a name that looks
like an id, or holds `/`, `?`, `#` or `%`, would shadow a deployment or break its URL. Control characters
(ANSI escapes) would reach people's terminals raw.
"""
from __future__ import annotations

import re
from typing import Any

MAX_NAME_CHARS = 100
ID_PATTERN = re.compile(r"[0-9a-f]{24}")  # the contract's id format (service/timeutil.new_id)
URL_CHARACTERS = "/\\?#%"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def name_problem(name: str, what: str = "name") -> str | None:
    """Return why a name cannot be used (in a message naming `what`), None when it can."""
    if not name.strip():
        return f"{what} is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"{what} {terminal_safe(name[:40])!r}... is longer than {MAX_NAME_CHARS} characters"
    if ID_PATTERN.fullmatch(name):
        return f"{what} {name!r} looks like an id (24 hex characters), so it would shadow a real id"
    if _CONTROL.search(name):
        return f"{what} {terminal_safe(name)!r} holds control characters (e.g. terminal escapes)"
    bad = sorted({c for c in name if c in URL_CHARACTERS})
    if bad:
        return f"{what} {name!r} holds {' '.join(bad)}, which break the URLs it is used in"
    return None


def terminal_safe(text: str) -> str:
    """Return text with control characters (ANSI escapes, newlines) shown as escapes, never sent raw."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def terminal_safe_doc(doc: Any) -> Any:
    """Return a JSON document with every string made terminal_safe (keys too)."""
    if isinstance(doc, str):
        return terminal_safe(doc)
    if isinstance(doc, list):
        return [terminal_safe_doc(v) for v in doc]
    if isinstance(doc, dict):
        return {terminal_safe(k) if isinstance(k, str) else k: terminal_safe_doc(v) for k, v in doc.items()}
    return doc
