"""A filtering Docker API proxy: one unix socket per consumer, each checked against that consumer's policy.

Every request's line and headers are read and checked; an allowed one is forwarded with `Connection: close`, so
the engine ends the connection after its response and a second request can never ride through unchecked.
Exactly the request's body is forwarded (its Content-Length, or its chunks up to the last): bytes a client sends
after it are read and dropped, never passed on. Upgraded (hijacked) connections such as `docker exec` stay raw
streams after their allowed first request.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from bosun_local.docker_proxy.rules import Policy

log = logging.getLogger("bosun_local.docker_proxy")
MAX_HEAD = 64 * 1024
MAX_CHECKED_BODY = 1 << 20
CHUNK = 64 * 1024
HEAD_TIMEOUT_SEC = 60.0  # an idle connection that never sends a request is closed


@dataclass(frozen=True)
class Listener:
    """A socket a consumer connects to, and the policy its requests are held to."""

    path: Path
    policy: Policy


@dataclass
class Request:
    """The head of one HTTP request."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")

    def chunked(self) -> bool:
        return self.header("transfer-encoding").lower() == "chunked"

    def framing_error(self) -> str | None:
        """Return why the body's length cannot be known exactly, or None (the guard against request smuggling)."""
        length, coding = self.header("content-length"), self.header("transfer-encoding")
        if coding and length:
            return "both Content-Length and Transfer-Encoding are set"
        if coding and not self.chunked():
            return f"Transfer-Encoding {coding!r} is not supported (send chunked or a Content-Length)"
        if length and not length.isdigit():
            return f"Content-Length {length!r} is not a number"
        return None

    def upgrading(self) -> bool:
        return "upgrade" in self.header("connection").lower()

    def encode(self) -> bytes:
        """Return the head to forward: its own Connection header unless it upgrades, else `close`."""
        keep = [(k, v) for k, v in self.headers if self.upgrading() or k.lower() not in ("connection", "keep-alive")]
        if not self.upgrading():
            keep.append(("Connection", "close"))
        lines = [f"{self.method} {self.target} {self.version}", *(f"{k}: {v}" for k, v in keep)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(raw: bytes) -> Request:
    """Parse a request head (up to and including the blank line); ValueError when it is not HTTP/1.x."""
    line, *rest = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
    method, target, version = line.split(" ")
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        raise ValueError(f"not an HTTP/1.x request: {line!r}")
    headers = []
    for item in rest:
        name, sep, value = item.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"bad header line {item!r}")
        headers.append((name, value.strip()))
    return Request(method, target, version, headers)


def _suspicious(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/")) or "%" in path or "//" in path


async def _drain_body(reader: asyncio.StreamReader, request: Request) -> None:
    """Read a refused request's body, so its client is not cut off mid-write and sees the answer."""
    length = request.header("content-length")
    if length.isdigit() and int(length) <= MAX_CHECKED_BODY:
        await asyncio.wait_for(reader.readexactly(int(length)), 10)


async def _reply(writer: asyncio.StreamWriter, status: int, reason: str, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)
    try:
        await writer.drain()
    except ConnectionError:
        pass


async def _send_body(reader: asyncio.StreamReader, dst: asyncio.StreamWriter, request: Request) -> None:
    """Forward exactly the request's body: its Content-Length bytes, or its chunks through the last one."""
    if request.chunked():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
            dst.write(size_line)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    dst.write(trailer)
                dst.write(trailer)
                break
            dst.write(await reader.readexactly(size + 2))
            await dst.drain()
    else:
        left = int(request.header("content-length") or 0)
        while left:
            data = await reader.read(min(left, CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", left)
            dst.write(data)
            left -= len(data)
            await dst.drain()
    await dst.drain()


async def _discard_until_eof(reader: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Drop what a client sends after its request (a pipelined request is never passed on); end dst at its EOF."""
    try:
        while await reader.read(CHUNK):
            pass
        if dst.can_write_eof():
            dst.write_eof()
    except (ConnectionError, OSError):
        pass


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (ConnectionError, OSError):
        pass


class DockerProxy:
    """Serves each listener's socket and forwards what its policy allows to the engine's socket."""

    def __init__(self, upstream: Path, listeners: list[Listener]) -> None:
        self.upstream = upstream
        self.listeners = listeners
        # The event loop keeps only weak references to tasks: a connection's task must not be collected mid-stream.
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Listen on every socket until cancelled or signalled."""
        servers = []
        for listener in self.listeners:
            listener.path.parent.mkdir(parents=True, exist_ok=True)
            listener.path.unlink(missing_ok=True)
            server = await asyncio.start_unix_server(
                functools.partial(self._handle, policy=listener.policy), path=str(listener.path), limit=MAX_HEAD)
            # Only its consumer (which runs as the same user) may connect.
            os.chmod(listener.path, 0o600)
            servers.append(server)
            log.info("docker proxy for %s on %s -> %s", listener.policy.name, listener.path, self.upstream)
        if ready is not None:
            ready.set()
        try:
            await asyncio.gather(*(s.serve_forever() for s in servers))
        finally:
            for server in servers:
                server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, policy: Policy) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            await self._forward(reader, writer, policy)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            log.debug("connection of %s ended: %s", policy.name, exc)
        finally:
            writer.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, policy: Policy) -> None:
        try:
            request = parse_head(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SEC))
        except ValueError as exc:
            await _reply(writer, 400, "Bad Request", f"bosun-local docker proxy: {exc}")
            return
        where = f"{request.method} {request.path}"
        if _suspicious(request.path) or not policy.allows(request.method, request.path):
            log.warning("refused for %s: %s", policy.name, where)
            await _drain_body(reader, request)
            await _reply(writer, 403, "Forbidden", f"bosun-local docker proxy: {where} is not allowed for "
                         f"{policy.name} (templates/environment and bosun_local/docker_proxy/rules.py say why)")
            return
        framing = request.framing_error()
        if framing and not request.upgrading():
            await _reply(writer, 400, "Bad Request", f"bosun-local docker proxy: {where}: {framing}")
            return
        body = b""
        if policy.body_check(request.method, request.path):
            length = request.header("content-length")
            if not length.isdigit() or int(length) > MAX_CHECKED_BODY or request.header("transfer-encoding"):
                await _reply(writer, 411, "Length Required", f"bosun-local docker proxy: {where} needs a "
                             f"Content-Length body of at most {MAX_CHECKED_BODY} bytes to be checked")
                return
            body = await reader.readexactly(int(length))
            why = policy.refuse_body(request.path, body)
            if why:
                log.warning("refused for %s: %s: %s", policy.name, where, why)
                await _reply(writer, 403, "Forbidden", f"bosun-local docker proxy: {where} refused for "
                             f"{policy.name}: {why}")
                return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream), limit=MAX_HEAD)
        except OSError as exc:
            await _reply(writer, 502, "Bad Gateway", f"bosun-local docker proxy: the engine's socket "
                         f"{self.upstream} is not reachable ({exc})")
            return
        try:
            up_writer.write(request.encode() + body)
            await up_writer.drain()
            if request.upgrading():
                from_client = _pipe(reader, up_writer)
            else:
                if not body:
                    await _send_body(reader, up_writer, request)
                from_client = _discard_until_eof(reader, up_writer)
            to_engine = asyncio.create_task(from_client)
            self._tasks.add(to_engine)
            to_engine.add_done_callback(self._tasks.discard)
            # The engine closes after its response (Connection: close) or when a hijacked stream ends.
            await _pipe(up_reader, writer)
            to_engine.cancel()
        finally:
            up_writer.close()


def run(upstream: Path, listeners: list[Listener]) -> None:
    """Run the proxy in the foreground until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def main() -> None:
        task = asyncio.create_task(DockerProxy(upstream, listeners).serve())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
