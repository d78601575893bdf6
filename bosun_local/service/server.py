"""Run the service in the foreground with uvicorn."""
from __future__ import annotations

import uvicorn

from bosun_local.config import Config, load_config


def run(host: str = "127.0.0.1", port: int = 8765, config: Config | None = None) -> None:
    """Serve the API until interrupted."""
    from bosun_local.service.app import create_app

    app = create_app(config or load_config())
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
