"""`bosun-local swarm up|down|status` (and `up --swarm`): the environment's traefik on a Docker swarm."""
from __future__ import annotations

import os

import click

from bosun_local.cli.output import console, json_option, print_json, print_table
from bosun_local.config import load_config
from bosun_local.engine.swarm import SwarmEngine
from bosun_local.envstack import swarm_mode
from bosun_local.plugins.swarm import SwarmPlugin

HOST_HELP = "A swarm manager's engine (tcp://HOST:2375); default DOCKER_HOST or the local engine."


def _engine(host: str | None) -> SwarmEngine:
    return SwarmEngine(host or os.environ.get("DOCKER_HOST") or None)


@click.group("swarm")
def swarm() -> None:
    """Run deployments on a Docker swarm (the swarm plugin): its traefik, its nodes and tasks."""


@swarm.command("up")
@click.option("--host", default=None, help=HOST_HELP)
@click.option("--advertise-addr", default="127.0.0.1", show_default=True,
              help="The address other nodes reach this one on, when a swarm is initialised.")
@click.option("--port", default=80, show_default=True, help="The port traefik publishes on the manager node.")
@click.option("--yes", is_flag=True, help="Make the changes listed without asking.")
@json_option
def swarm_up(host: str | None, advertise_addr: str, port: int, yes: bool, as_json: bool) -> None:
    """Say what will change, then init a swarm if there is none and deploy the overlay network and traefik."""
    config, engine = load_config(), _engine(host)
    plan = swarm_mode.plan(config, engine, advertise_addr, port)
    if not as_json:
        console.print("bosun-local swarm up will:")
        for change in plan.changes:
            console.print(f"  - {change}")
    if not yes and not click.confirm("Go ahead?", default=False):
        raise SystemExit(1)
    result = swarm_mode.up(config, engine, advertise_addr, port)
    if as_json:
        print_json({"changes": plan.changes, **result})
    else:
        console.print(result["msg"])
        for what, where in result["where"].items():
            console.print(f"  {what}: {where}")


@swarm.command("down")
@click.option("--host", default=None, help=HOST_HELP)
@json_option
def swarm_down(host: str | None, as_json: bool) -> None:
    """Remove traefik's stack; leave the swarm only if bosun-local created it (deployments are left running)."""
    done = swarm_mode.down(load_config(), _engine(host))
    if as_json:
        print_json({"done": done})
    else:
        for line in done:
            console.print(line)


@swarm.command("status")
@click.option("--host", default=None, help=HOST_HELP)
@json_option
def swarm_status(host: str | None, as_json: bool) -> None:
    """Show the swarm's nodes and, per deployment, the node each task runs on."""
    config = load_config()
    status = SwarmPlugin(swarm_mode.plugin_config(config, _engine(host).host, 80)).pe_status()
    data = status.data or {}
    tasks = [{"deployment": dep_id, **task} for dep_id, dep in sorted((data.get("deploymentsStatus") or {}).items())
             for task in (dep.get("data") or {}).get("tasks", [])]
    if as_json:
        print_json({"platform": "swarm", "status": status.status, "msg": status.msg,
                    "nodes": data.get("nodes", []), "tasks": tasks})
    else:
        console.print(f"platform swarm: {status.msg}")
        print_table(data.get("nodes", []), ["hostname", "role", "state", "availability", "address"])
        if tasks:
            print_table(tasks, ["deployment", "slot", "node", "state", "modelId"])
    if status.status == "failing":
        raise SystemExit(1)


def register(group: click.Group) -> None:
    """Add the swarm commands to the CLI."""
    group.add_command(swarm)
