"""Run the service in the foreground with uvicorn."""
from __future__ import annotations

from types import FrameType

import uvicorn

from bosun_local.config import Config, load_config
from bosun_local.service.long_poll import Changes

KEEP_ALIVE_SEC = 75


def run(host: str = "127.0.0.1", port: int = 8765, config: Config | None = None) -> None:
    """Serve the API until interrupted."""
    from bosun_local.service.app import create_app

    app = create_app(config or load_config())
    # uvicorn closes an idle connection after 5 s, exactly when httpx's pool (5 s expiry) may reuse it; on a loaded
    # host the close and a client's next request cross ("Server disconnected without sending a response"). The
    # server keeps connections longer than its clients do, so the client always closes first.
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                    timeout_keep_alive=KEEP_ALIVE_SEC), app.state.ctx.changes)
    server.run()


class _Server(uvicorn.Server):
    """uvicorn's server; on SIGTERM/SIGINT it first answers the long polls, which it would otherwise wait out."""

    def __init__(self, config: uvicorn.Config, changes: Changes) -> None:
        super().__init__(config)
        self.changes = changes

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.changes.close()
        super().handle_exit(sig, frame)
