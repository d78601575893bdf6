"""The ceiling for the PPS benches: a bare ASGI app on the same uvicorn settings, reading the body, answering JSON."""
from __future__ import annotations

import os
from typing import Any

BODY = b'{"data":[{"rowId":0,"prediction":1.0}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole request body and answer a fixed JSON body."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    import uvicorn

    # The PPS's own uvicorn settings (bosun_local/pps/server.py), so the difference is the app.
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), lifespan="off", access_log=False,
                log_level="warning", server_header=False, date_header=False)
