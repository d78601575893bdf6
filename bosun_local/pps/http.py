"""Raw ASGI plumbing: request headers, bounded body reading and responses (no framework on the hot path)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bosun_local.pps.inputs import InputError
from bosun_local.pps.outputs import dumps

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON = b"application/json"
CSV = b"text/csv; charset=utf-8"


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


@dataclass(slots=True)
class Request:
    """What the handlers need of an HTTP request."""

    method: str
    path: str
    query: bytes
    content_type: str
    accept: str
    content_length: int | None
    receive: Receive
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive) -> Request:
        """Pick the few headers the server uses out of the ASGI scope."""
        content_type = accept = ""
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
            elif name == b"accept":
                accept = value.decode("latin-1").lower()
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        return cls(scope["method"], scope["path"], scope.get("query_string", b""), content_type, accept, length,
                   receive, tuple(scope["headers"]))

    def header(self, name: bytes) -> str | None:
        """Return a header's value (name in lower case), None when absent."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip()

    async def body(self, limit: int) -> bytes:
        """Read the whole body; 413 as soon as it is known to exceed the limit."""
        if self.content_length is not None and self.content_length > limit:
            raise InputError(413, f"the request body is {self.content_length} bytes, over the limit of {limit} "
                                  "bytes (PPS_MAX_BODY_BYTES); send fewer rows per request")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise InputError(413, f"the request body is over the limit of {limit} bytes "
                                          "(PPS_MAX_BODY_BYTES); send fewer rows per request")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@dataclass(slots=True)
class Response:
    """A complete response body with its status and type."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()


def json_response(status: int, doc: Any, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """Return a JSON response."""
    return Response(status, dumps(doc), JSON, tuple(headers))


def error(status: int, message: str, v2: bool = False) -> Response:
    """Return an error body: `{"message": ...}`, or `{"error": ...}` on V2 routes."""
    return json_response(status, {"error" if v2 else "message": message})


async def send_response(send: Send, response: Response) -> None:
    """Send a response in two ASGI messages."""
    headers = [(b"content-type", response.content_type), (b"content-length", str(len(response.body)).encode())]
    headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
