"""`bosun-local dashboard --web`: the Textual dashboard served to a browser (textual-serve), behind a token."""
from __future__ import annotations

import os
import secrets
import shlex
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from textual_serve.server import Server

COOKIE = "bosun_dashboard"
# The dashboard processes read the service token from here, so it never shows on a command line (ps).
SERVICE_TOKEN_ENV = "BOSUN_DASHBOARD_SERVICE_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dashboard_command(url: str | None, interval: float) -> str:
    """Return the shell command textual-serve runs per browser session: this CLI's terminal dashboard."""
    args = [sys.executable, "-m", "bosun_local", "dashboard", "--interval", str(interval)]
    if url:
        args += ["--url", url]
    return shlex.join(args)


class DashboardWebServer(Server):
    """textual-serve's server with a token check: `?token=` once sets a cookie; everything else needs it."""

    def __init__(self, command: str, host: str, port: int, token: str | None = None) -> None:
        public_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        netloc = f"[{public_host}]" if ":" in public_host else public_host
        super().__init__(command, host=host, port=port, title="bosun-local dashboard",
                         public_url=f"http://{netloc}:{port}")
        self.token = token or secrets.token_urlsafe(24)
        # On loopback, refuse other Host names: a DNS-rebinding page must not reach the dashboard.
        self.hosts = {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")} if host in LOOPBACK else None

    @property
    def login_url(self) -> str:
        """Return the URL to open: it carries the token once, then a cookie does."""
        return f"{self.public_url}/?token={self.token}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check)
        return app

    @web.middleware
    async def _check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.hosts is not None and request.host not in self.hosts:
            return web.Response(status=403, text=f"host {request.host} is not served here; open {self.public_url}\n")
        given = request.query.get("token")
        if given is not None and secrets.compare_digest(given.encode(), self.token.encode()):
            # Drop the token from the address bar (and history) once the cookie holds it.
            response = web.HTTPFound(request.rel_url.with_query({k: v for k, v in request.query.items()
                                                                  if k != "token"}))
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return response
        cookie = request.cookies.get(COOKIE, "")
        if cookie and secrets.compare_digest(cookie.encode(), self.token.encode()):
            return await handler(request)
        return web.Response(status=401, text="this dashboard needs its token: open the URL `bosun-local dashboard "
                                             "--web` printed (…/?token=…)\n")

    async def on_startup(self, app: web.Application) -> None:
        """Say where to point the browser (the stock banner would print a URL without the token)."""
        self.console.print(f"bosun-local dashboard on {self.login_url}", highlight=False, soft_wrap=True)
        self.console.print("Press Ctrl+C to stop.")


def serve(url: str | None, service_token: str | None, interval: float, host: str, port: int,
          token: str | None = None) -> None:
    """Serve the dashboard to browsers until interrupted."""
    if service_token:
        os.environ[SERVICE_TOKEN_ENV] = service_token
    server = DashboardWebServer(dashboard_command(url, interval), host, port, token)
    server.serve()
