"""A small /metrics HTTP listener for processes without a web server of their own (the agents)."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bosun_local.errors import ConfigError
from bosun_local.metrics.exposition import CONTENT_TYPE

log = logging.getLogger("bosun_local.metrics")
PORT_ENV = "BOSUN_METRICS_PORT"
HOST_ENV = "BOSUN_METRICS_HOST"
# Inside the stack the agents listen on the stack's network only (no port is published); on a host, loopback.
DEFAULT_HOST = "127.0.0.1"


class MetricsListener:
    """Serve GET /metrics from a render function in a daemon thread."""

    def __init__(self, render: Callable[[], bytes], host: str, port: int) -> None:
        self.render = render
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's handler name
                if self.path.split("?", 1)[0] != "/metrics":
                    self._answer(404, b"only /metrics is served here\n", "text/plain")
                    return
                try:
                    body = outer.render()
                except Exception:  # a scrape must never take the agent down; it sees a 500 and says so
                    log.exception("rendering /metrics failed")
                    self._answer(500, b"rendering the metrics failed; see the agent log\n", "text/plain")
                    return
                self._answer(200, body, CONTENT_TYPE)

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                """Stay quiet: Prometheus scrapes every few seconds."""

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(f"cannot listen for /metrics on {host}:{port}: {exc.strerror}",
                              fix=f"choose another port with {PORT_ENV}, or unset it to serve no /metrics") from exc
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics-listener", daemon=True)

    def start(self) -> MetricsListener:
        """Start serving in the background."""
        self._thread.start()
        log.info("serving /metrics on port %d", self.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def listen_from_env(render: Callable[[], bytes]) -> MetricsListener | None:
    """Start a listener on $BOSUN_METRICS_PORT (host $BOSUN_METRICS_HOST, loopback by default); None when unset."""
    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{PORT_ENV}={raw!r} is not a port number", fix=f"set {PORT_ENV} to e.g. 9108") from None
    return MetricsListener(render, os.environ.get(HOST_ENV, "").strip() or DEFAULT_HOST, port).start()
