"""A filtering Docker API proxy (bosun_local.docker_proxy) in a thread of the test process, on the real engine."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bosun_local.docker_proxy.rules import policy_for
from bosun_local.docker_proxy.server import DockerProxy, Listener

ENGINE = Path("/var/run/docker.sock")


@contextmanager
def running_proxy(root: Path) -> Iterator[dict[str, Path]]:
    """Serve traefik's and the agent's sockets under root (agent binds allowed under root/data); yield their paths."""
    paths = {"traefik": root / "traefik" / "docker.sock", "agent": root / "agent" / "docker.sock"}
    proxy = DockerProxy(ENGINE, [Listener(paths["traefik"], policy_for("traefik")),
                                 Listener(paths["agent"], policy_for("agent", (str(root / "data"),)))])
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(proxy.serve(started))
        await started.wait()
        ready.set()
        try:
            await task
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield paths
    finally:
        loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
        thread.join(10)
