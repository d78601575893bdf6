"""Scoped API tokens: kept hashed in `<data dir>/tokens.json` (0600); the data dir's `token` file is admin.

The CLI (`bosun-local tokens ...`) writes the file directly, as the operator who owns the data dir; the service
re-reads it when it changes, so a revoked token stops working on the next request without a restart.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from bosun_local.errors import UsageError

TOKENS_FILE = "tokens.json"
# admin: everything (environments and their plugin commands, notifications, settings); deployer: packages and
# deployments; reader: GET only; reporter: monitoring ingest (the monitoring agent, instrumented apps);
# agent: the management agent's action queue, events, status and package checks.
SCOPES = ("admin", "deployer", "reader", "reporter", "agent")
LEGACY_ADMIN = "data-dir token"  # the `token` file: what every existing client presents, full rights


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    """One scoped token as stored (its secret only as a SHA-256)."""

    id: str
    name: str
    scope: str
    sha256: str
    createdAt: str

    def public(self) -> dict[str, str]:
        """Return what `tokens list` shows (never the hash)."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "createdAt": self.createdAt}


class TokenStore:
    """The scoped tokens of a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / TOKENS_FILE
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, TokenRecord] = {}

    def records(self) -> list[TokenRecord]:
        """Return every stored token, oldest first."""
        try:
            text = self.path.read_text()
            raw = json.loads(text) if text.strip() else {}
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the token list {self.path}: {exc}",
                             fix="restore it from a backup, or delete it and create the tokens again") from exc
        return [TokenRecord(**item) for item in raw.get("tokens", [])]

    def _save(self, records: list[TokenRecord]) -> None:
        from bosun_local.config import write_private

        write_private(self.path, json.dumps({"tokens": [asdict(r) for r in records]}, indent=1) + "\n")
        owner = self.path.parent.stat()
        if os.geteuid() == 0 and owner.st_uid != 0:
            # The service in the stack runs as the data dir's owner and must read what root wrote here.
            os.chown(self.path, owner.st_uid, owner.st_gid)

    def create(self, name: str, scope: str) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the secret (shown once, stored only hashed)."""
        from bosun_local.service.timeutil import new_id, now_iso

        if scope not in SCOPES:
            raise UsageError(f"unknown token scope {scope!r}", fix=f"choose one of {', '.join(SCOPES)}")
        if not name.strip():
            raise UsageError("a token needs a name", fix="give --name, e.g. the person or program that uses it")
        records = self.records()
        if any(r.name == name for r in records):
            raise UsageError(f"a token named {name!r} exists", fix=f"revoke it first (`bosun-local tokens revoke "
                                                                   f"{name}`) or choose another name")
        secret = f"bl-{scope}-{secrets.token_urlsafe(32)}"
        record = TokenRecord(new_id(), name, scope, _digest(secret), now_iso())
        self._save([*records, record])
        return record, secret

    def revoke(self, ref: str) -> TokenRecord:
        """Delete a token by id or name; return it."""
        records = self.records()
        found = [r for r in records if ref in (r.id, r.name)]
        if not found:
            raise UsageError(f"no token with id or name {ref!r}", fix="see `bosun-local tokens list`")
        self._save([r for r in records if r not in found])
        return found[0]

    def lookup(self, token: bytes) -> TokenRecord | None:
        """Return the record of a presented token, re-reading the file when it changed."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._by_hash = {r.sha256: r for r in self.records()} if stamp else {}
                self._stamp = stamp
            try:
                return self._by_hash.get(_digest(token.decode()))
            except UnicodeDecodeError:
                return None
