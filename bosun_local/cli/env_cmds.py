"""`bosun-local up|down|status|doctor|engine`: the environment stack and the engine under it."""
from __future__ import annotations

from typing import Any

import click

from bosun_local.cli.output import console, json_option, print_json, print_table, status_text
from bosun_local.cli.progress import step_progress
from bosun_local.config import Config, load_config
from bosun_local.engine import provision
from bosun_local.envstack.doctor import run_checks
from bosun_local.envstack.environment import EnvironmentStack, status_dicts
from bosun_local.envstack.prometheus_stack import EXTRAS
from bosun_local.errors import BosunError


@click.command("up")
@click.option("--wait/--no-wait", default=True, help="Wait until every service is healthy (default).")
@click.option("--services", default="", help="Comma-separated subset to start, e.g. traefik,rabbitmq (default: all).")
@click.option("--with", "extras", multiple=True, type=click.Choice(EXTRAS),
              help="Also run an optional service (prometheus); it stays in the stack until `down`.")
@click.option("--swarm", "on_swarm", is_flag=True,
              help="Bring the environment's traefik up on a Docker swarm instead, for the swarm plugin "
                   "(`bosun-local swarm up`: lists what it will change and asks first).")
@json_option
def up(wait: bool, services: str, extras: tuple[str, ...], on_swarm: bool, as_json: bool) -> None:
    """Bring the environment stack up and print its URLs."""
    if on_swarm:
        from bosun_local.cli.swarm_cmds import swarm_up

        click.get_current_context().invoke(swarm_up, as_json=as_json)
        return
    stack = EnvironmentStack(load_config(), extras=list(extras))
    if stack.extras:
        # Optional services' images are built here when missing: from the local base, in seconds once cached.
        from bosun_local.cli.image_cmds import build_all

        build_all(show_progress=not as_json, extras=tuple(stack.extras), only=tuple(stack.extras))
    chosen = stack.select([s.strip() for s in services.split(",") if s.strip()])
    with step_progress(not as_json) as progress:
        task = progress.add_task("environment", total=len(chosen), detail="starting")

        def show(done: int, total: int, text: str) -> None:
            progress.update(task, completed=done, total=total, detail=text)

        statuses = stack.up(wait=wait, progress=show, services=chosen)
    urls = stack.urls()
    if as_json:
        print_json({"services": status_dicts(statuses), "urls": urls, "composeFile": str(stack.compose_file)})
        return
    for name, url in urls.items():
        console.print(f"  {name:<20} {url}")
    console.print(f"  {'compose file':<20} {stack.compose_file}")


@click.command("down")
@click.option("--volumes", is_flag=True, help="Also remove the stack's volumes (RabbitMQ data).")
def down(volumes: bool) -> None:
    """Stop the environment stack; nothing is left behind but volumes (unless --volumes)."""
    removed = EnvironmentStack(load_config()).down(volumes=volumes)
    if removed:
        console.print(f"stopped {len(removed)} deployment container(s); the agent starts them again at the next up")
    console.print("environment stack removed" + (" with its volumes" if volumes else ""))


@click.command("status")
@json_option
def status(as_json: bool) -> None:
    """Show each environment service's state and health, and the platform each environment deploys to."""
    config = load_config()
    stack = EnvironmentStack(config)
    rows = status_dicts(stack.status())
    environments = _environments(config)
    if as_json:
        print_json({"services": rows, "healthy": all(r["ok"] for r in rows), "environments": environments})
    else:
        print_table([{**r, "health": status_text("passing" if r["ok"] else "failing") + f" {r['health']}"}
                     for r in rows], ["service", "state", "health", "image", "container"])
        if environments is not None:
            print_table([{**e, "default": "yes" if e["default"] else ""} for e in environments],
                        ["name", "platform", "default", "id"], title="environments")
    if not all(r["ok"] for r in rows):
        raise SystemExit(1)


def _environments(config: Config) -> list[dict[str, Any]] | None:
    """Return each environment's name, platform and id from the service; None when it does not answer."""
    from bosun_local.client import ServiceClient

    try:
        with ServiceClient(config=config) as client:
            found = client.list_environments()
    except BosunError:
        return None  # the services table above says why
    return [{"id": e["id"], "name": e["name"], "platform": e["platform"], "default": bool(e.get("isDefault"))}
            for e in found]


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Check the engine, compose, images, ports and data dir; each line says the fix."""
    checks = run_checks(load_config())
    if as_json:
        print_json({"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]})
    else:
        for c in checks:
            mark = "[green]ok  [/]" if c.ok else "[red]fail[/]"
            console.print(f"{mark} {c.name:<34} {c.detail}" + (f"\n       fix: {c.fix}" if c.fix else ""))
    if not all(c.ok for c in checks):
        raise SystemExit(1)


@click.group("engine")
def engine() -> None:
    """Provision the Docker engine and the Compose plugin."""


@engine.command("ensure")
def engine_ensure() -> None:
    """Install/start the Docker engine and link the Compose v2 plugin when missing (idempotent)."""
    say = click.echo
    try:
        say(provision.ensure_engine(say))
        say(provision.ensure_compose(say))
    except BosunError:
        raise


def register(group: click.Group) -> None:
    """Add the environment commands to the CLI."""
    for command in (up, down, status, doctor, engine):
        group.add_command(command)
