"""Token auth: one token per data dir, created at first start, checked on every route but the open ones."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from bosun_local.service.scopes import allowed_scopes
from bosun_local.service.tokens import LEGACY_ADMIN, TokenStore

# Open routes: liveness for probes and the API description (it reveals routes, never resources).
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# `Bearer` is ours; `Token` is what the `datarobot` client sends by default (DataRobot's API-key scheme).
SCHEMES = frozenset({b"bearer", b"token"})


def presented_token(header: bytes) -> bytes | None:
    """Return the credential of `Bearer <t>` or `Token <t>`, tolerating extra spaces (datarobot-mlops sends two)."""
    scheme, _, credential = header.strip().partition(b" ")
    if scheme.lower() not in SCHEMES:
        return None
    return credential.strip() or None


def load_or_create_token(token_file: Path) -> str:
    """Return the service token, writing a new one (mode 0600) when the data dir has none."""
    from bosun_local.config import write_private

    if token_file.is_file():
        token = token_file.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    write_private(token_file, token + "\n")
    return token


async def _refuse(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BearerAuthMiddleware:
    """Check the token and its scope before any routing: 401 says nothing about resources, 403 names the scope."""

    def __init__(self, app: ASGIApp, token: str, open_paths: frozenset[str] = OPEN_PATHS,
                 store: TokenStore | None = None) -> None:
        self.app = app
        self.expected = token.encode()
        self.open_paths = open_paths
        self.store = store

    def _identify(self, given: bytes | None) -> tuple[str, str] | None:
        """Return (token name, scope) of a presented token, or None when it is not one of ours."""
        if given is None:
            return None
        if secrets.compare_digest(given, self.expected):
            return LEGACY_ADMIN, "admin"
        record = self.store.lookup(given) if self.store else None
        return (record.name, record.scope) if record else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        who = self._identify(presented_token(dict(scope.get("headers") or []).get(b"authorization", b"")))
        if who is None:
            await _refuse(send, 401, "missing or wrong token: send `Authorization: Bearer <token>` (or `Token "
                                     "<token>`) with the token from the service data dir's `token` file, or one "
                                     "made with `bosun-local tokens create`", [(b"www-authenticate", b"Bearer")])
            return
        name, token_scope = who
        method, path = scope["method"], scope["path"]
        allowed = allowed_scopes(method, path)
        if token_scope not in allowed:
            needed = " or ".join(sorted(allowed))
            suggest = sorted(allowed - {"admin"} or allowed)[0]
            await _refuse(send, 403, f"token {name!r} has scope {token_scope}, which may not {method} {path}: this "
                                     f"route needs scope {needed}; fix: use a token with that scope "
                                     f"(`bosun-local tokens create --scope {suggest}`)", [])
            return
        scope.setdefault("state", {})["tokenScope"] = token_scope
        await self.app(scope, receive, send)
