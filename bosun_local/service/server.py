"""Run the service in the foreground with uvicorn."""
from __future__ import annotations

import uvicorn

from bosun_local.config import Config, load_config

KEEP_ALIVE_SEC = 75


def run(host: str = "127.0.0.1", port: int = 8765, config: Config | None = None) -> None:
    """Serve the API until interrupted."""
    from bosun_local.service.app import create_app

    app = create_app(config or load_config())
    # uvicorn closes an idle connection after 5 s, exactly when httpx's pool (5 s expiry) may reuse it; on a loaded
    # host the close and a client's next request cross ("Server disconnected without sending a response"). The
    # server keeps connections longer than its clients do, so the client always closes first.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=KEEP_ALIVE_SEC)
