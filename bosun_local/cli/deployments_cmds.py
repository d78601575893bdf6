"""`bosun-local deploy` and `bosun-local deployments ...`: create deployments and change their lifecycle."""
from __future__ import annotations

from typing import Any

import click
import yaml

from bosun_local.cli.output import STATUS_STYLE as STYLE
from bosun_local.cli.output import err_console, json_option, print_json, print_table, status_text
from bosun_local.client import ServiceClient
from bosun_local.config import load_config
from bosun_local.errors import BosunError, UsageError

STATE_COLOUR = {"ready": "passing", "errored": "failing", "stopped": "unknown", "unknown": "unknown"}
wait_option = click.option("--wait", is_flag=True, help="Wait until the agent has run the action; exit 1 if it failed.")


def parse_kv(pairs: tuple[str, ...]) -> dict[str, Any]:
    """Parse `k=v` pairs (values as YAML scalars: 3 -> int, true -> bool) into a dict."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--kv {pair!r} is not key=value", fix="write --kv name=value")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        values[key.strip()] = value if isinstance(value, str | int | float | bool) or value is None else raw
    return values


def wait_for(client: ServiceClient, action: dict[str, Any]) -> dict[str, Any]:
    """Poll an action with a spinner until it finishes; raise BosunError when it failed."""
    timeout = float(load_config()["waitTimeoutSec"])
    with err_console.status(f"{action['type']}: {action['status']}", spinner="dots") as spinner:
        def show(current: dict[str, Any]) -> None:
            spinner.update(f"{current['type']} of {current['deploymentId']}: {current['status']} "
                           f"(attempt {current['attempts']})")

        done = client.wait_for_action(action["id"], timeout=timeout, on_poll=show)
    result = done.get("result") or {}
    if done["status"] == "failed":
        raise BosunError(f"{done['type']} of deployment {done['deploymentId']} failed: {result.get('msg') or ''}",
                         fix=f"see `bosun-local events --deployment {done['deploymentId']}`")
    return done


def _report(client: ServiceClient, answer: dict[str, Any], wait: bool, as_json: bool) -> None:
    action = answer.get("action")
    if wait and action is not None:
        answer["action"] = wait_for(client, action)
        answer["deployment"] = client.get_deployment(answer["deployment"]["id"])
    if as_json:
        print_json(answer)
        return
    dep = answer["deployment"]
    if action is None:
        click.echo(f"deployment {dep['name']} ({dep['id']}) is {dep['state']}")
        return
    how = "already queued" if answer.get("coalesced") else "queued"
    click.echo(f"{action['type']} for deployment {dep['name']} ({dep['id']}) {how} as action {action['id']}")
    if wait:
        url = f" at {dep['predictionUrl']}" if dep.get("predictionUrl") else ""
        click.echo(f"deployment {dep['name']} is {dep['state']}{url}")


@click.command("deploy")
@click.argument("package")
@click.option("--name", required=True, help="Deployment name (unique among live deployments).")
@click.option("--env", "environment", help="Prediction environment id or name (default: the docker one).")
@click.option("--description", default="", help="Free text.")
@click.option("--kv", multiple=True, help="keyValueConfig entry key=value (repeatable).")
@click.option("--external", is_flag=True, help="Register an app bosun-local does not run (ready at once, no agent).")
@wait_option
@json_option
def deploy(package: str, name: str, environment: str | None, description: str, kv: tuple[str, ...], external: bool,
           wait: bool, as_json: bool) -> None:
    """Deploy PACKAGE (id or name) as a new deployment."""
    with ServiceClient() as client:
        answer = client.create_deployment(package, name, environment, description, parse_kv(kv), external)
        _report(client, answer, wait, as_json)


@click.group("deployments")
def deployments() -> None:
    """List, show and change deployments."""


@deployments.command("list")
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted deployments.")
@json_option
def list_cmd(include_deleted: bool, as_json: bool) -> None:
    """List deployments."""
    with ServiceClient() as client:
        rows = client.list_deployments(include_deleted)
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "state": f"[{STYLE.get(STATE_COLOUR.get(r['state'], 'warning'), 'white')}]{r['state']}[/]",
                  "health": status_text(r["healthStatus"]), "url": r.get("predictionUrl") or ""} for r in rows],
                ["id", "name", "state", "desiredState", "health", "modelId", "url"])


@deployments.command("show")
@click.argument("deployment")
@json_option
def show_cmd(deployment: str, as_json: bool) -> None:
    """Show a deployment (id or name) with its recent actions."""
    with ServiceClient() as client:
        dep = client.get_deployment(deployment)
        actions = client.list_actions(dep["id"], limit=10)
    if as_json:
        print_json({**dep, "actions": actions})
        return
    print_table([{"key": k, "value": v} for k, v in dep.items()], ["key", "value"], title=f"deployment {dep['name']}")
    if actions:
        print_table(actions, ["id", "type", "status", "attempts", "agentId", "createdAt"], title="recent actions")


def _lifecycle(name: str, method: str, doc: str) -> None:
    @deployments.command(name, help=doc)
    @click.argument("deployment")
    @wait_option
    @json_option
    def command(deployment: str, wait: bool, as_json: bool) -> None:
        with ServiceClient() as client:
            _report(client, getattr(client, method)(deployment), wait, as_json)


_lifecycle("stop", "stop_deployment", "Stop (deactivate) DEPLOYMENT.")
_lifecycle("start", "start_deployment", "Start (activate) DEPLOYMENT.")
_lifecycle("relaunch", "relaunch_deployment", "Relaunch DEPLOYMENT.")
_lifecycle("delete", "delete_deployment", "Delete DEPLOYMENT (the agent stops it first).")


@deployments.command("replace-model")
@click.argument("deployment")
@click.argument("package")
@wait_option
@json_option
def replace_model(deployment: str, package: str, wait: bool, as_json: bool) -> None:
    """Replace the model of DEPLOYMENT with PACKAGE (id or name)."""
    with ServiceClient() as client:
        _report(client, client.replace_model(deployment, package), wait, as_json)


@deployments.command("scale")
@click.argument("deployment")
@click.argument("replicas", type=click.IntRange(1, 64))
@wait_option
@json_option
def scale_cmd(deployment: str, replicas: int, wait: bool, as_json: bool) -> None:
    """Run REPLICAS containers of DEPLOYMENT's model (1-64), changed without dropping requests."""
    with ServiceClient() as client:
        _report(client, client.scale_deployment(deployment, replicas), wait, as_json)


@deployments.command("history")
@click.argument("deployment")
@json_option
def history_cmd(deployment: str, as_json: bool) -> None:
    """List every model DEPLOYMENT has served, with when and why it changed."""
    with ServiceClient() as client:
        rows = client.model_history(deployment)
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "model": f"{r['modelId']}{' *' if r['current'] else ''}", "package": r["packageName"] or "?",
                  "until": r["until"] or "now"} for r in rows],
                ["model", "package", "since", "until", "reason"], title=f"model history of {deployment}")


@deployments.command("rollback")
@click.argument("deployment")
@click.option("--to", "to", help="Model (package id or name) it served before; default: the previous one.")
@wait_option
@json_option
def rollback_cmd(deployment: str, to: str | None, wait: bool, as_json: bool) -> None:
    """Go back to the previous model of DEPLOYMENT (or --to MODEL) with no downtime."""
    with ServiceClient() as client:
        _report(client, client.rollback(deployment, to), wait, as_json)


def register(group: click.Group) -> None:
    """Add deploy and deployments to the root group."""
    group.add_command(deploy)
    group.add_command(deployments)
