"""Token auth: one token per data dir, created at first start, checked on every route but the open ones."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

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


class BearerAuthMiddleware:
    """Reject requests without the right bearer token before any routing, so a 401 says nothing about resources."""

    def __init__(self, app: ASGIApp, token: str, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.app = app
        self.expected = token.encode()
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = presented_token(dict(scope.get("headers") or []).get(b"authorization", b""))
        if given is not None and secrets.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": "missing or wrong token: send `Authorization: Bearer <token>` (or `Token "
                                     "<token>`) with the token from the service data dir's `token` file"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
