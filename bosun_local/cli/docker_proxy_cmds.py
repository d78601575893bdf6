"""`bosun-local docker-proxy run`: the environment stack's filtering proxy in front of the Docker socket."""
from __future__ import annotations

from pathlib import Path

import click


@click.group("docker-proxy")
def docker_proxy() -> None:
    """The filtering Docker API proxy (one socket per consumer; README: trust)."""


@docker_proxy.command("run")
@click.option("--upstream", default="/var/run/docker.sock", show_default=True, type=click.Path(path_type=Path),
              help="The engine's socket.")
@click.option("--listen", "listens", multiple=True, required=True, metavar="CONSUMER=SOCKET",
              help="A consumer (traefik or agent) and the unix socket it connects to; repeatable.")
@click.option("--bind-root", "bind_roots", multiple=True, metavar="DIR",
              help="A host directory the agent's containers may bind-mount (under it only); repeatable.")
def run(upstream: Path, listens: tuple[str, ...], bind_roots: tuple[str, ...]) -> None:
    """Serve each consumer's socket, forwarding only the calls its policy allows."""
    from bosun_local.docker_proxy.rules import policy_for
    from bosun_local.docker_proxy.server import Listener
    from bosun_local.docker_proxy.server import run as serve

    listeners = []
    for item in listens:
        consumer, sep, socket = item.partition("=")
        if not sep or not socket.startswith("/"):
            raise click.UsageError(f"--listen {item!r}: expected CONSUMER=/absolute/socket/path")
        try:
            listeners.append(Listener(Path(socket), policy_for(consumer, tuple(bind_roots))))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    serve(upstream, listeners)


def register(group: click.Group) -> None:
    """Add the docker-proxy commands to the root group."""
    group.add_command(docker_proxy)
