"""`bosun-local deployments challengers|canary ...` and the champion-vs-challengers table of `stats --compare`."""
from __future__ import annotations

from typing import Any

import click

from bosun_local.cli.deployments_cmds import _report, deployments, wait_option
from bosun_local.cli.output import json_option, print_json, print_table, status_text
from bosun_local.client import ServiceClient
from bosun_local.contracts.challengers import FEEDS
from bosun_local.contracts.states import QueueStatus


@deployments.group("challengers")
def challengers() -> None:
    """Run models beside the champion on a replay or mirror of its live traffic, compare, promote."""


@challengers.command("add")
@click.argument("deployment")
@click.argument("package")
@click.option("--feed", type=click.Choice(FEEDS), default=None,
              help="replay: the rows the champion reported, sent on by the monitoring agent (no cost on the "
                   "champion); mirror: traefik copies each request live. Default: keyValueConfig challengerFeed, "
                   "else replay.")
@wait_option
@json_option
def add_cmd(deployment: str, package: str, feed: str | None, wait: bool, as_json: bool) -> None:
    """Add PACKAGE as a challenger of DEPLOYMENT (its answers never reach clients)."""
    with ServiceClient() as client:
        _report(client, client.add_challenger(deployment, package, feed), wait, as_json)


@challengers.command("list")
@click.argument("deployment")
@json_option
def list_cmd(deployment: str, as_json: bool) -> None:
    """List the challengers of DEPLOYMENT."""
    with ServiceClient() as client:
        rows = client.challengers(deployment)
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "package": r["packageName"] or "?"} for r in rows],
                ["modelId", "package", "feed", "state", "addedAt"], title=f"challengers of {deployment}")


@challengers.command("remove")
@click.argument("deployment")
@click.argument("model")
@wait_option
@json_option
def remove_cmd(deployment: str, model: str, wait: bool, as_json: bool) -> None:
    """Stop challenger MODEL (package id or name) of DEPLOYMENT."""
    with ServiceClient() as client:
        _report(client, client.remove_challenger(deployment, model), wait, as_json)


def _then_wait(client: ServiceClient, answer: dict[str, Any], wait: bool, as_json: bool) -> None:
    """Report a promotion: the replacement, then (when waiting) the traffic update queued after it."""
    _report(client, answer, wait, as_json)
    if wait:
        for action in client.list_actions(answer["deployment"]["id"], status=QueueStatus.OPEN):
            if action["type"] == "deployment_traffic_update":
                _report(client, {"deployment": answer["deployment"], "action": action}, True, as_json)


@challengers.command("promote")
@click.argument("deployment")
@click.argument("model")
@wait_option
@json_option
def promote_cmd(deployment: str, model: str, wait: bool, as_json: bool) -> None:
    """Make challenger MODEL the champion with no downtime; the old champion stays on as a challenger."""
    with ServiceClient() as client:
        _then_wait(client, client.promote_challenger(deployment, model), wait, as_json)


@deployments.group("canary")
def canary() -> None:
    """Send a share of the traffic to a new model; promote it when healthy, roll back when not."""


@canary.command("start")
@click.argument("deployment")
@click.argument("package")
@click.option("--percent", type=click.IntRange(1, 99), required=True, help="Share of requests it gets at first.")
@click.option("--step", type=click.IntRange(1, 99), help="Percent added each --interval while it stays healthy; "
                                                          "past 99 it is promoted. Without it: manual promote.")
@click.option("--interval", default="5m", show_default=True, help="Time between steps: 300, 90s, 5m, 1h.")
@wait_option
@json_option
def start_cmd(deployment: str, package: str, percent: int, step: int | None, interval: str, wait: bool,
              as_json: bool) -> None:
    """Start PACKAGE as the canary of DEPLOYMENT at --percent of its requests."""
    with ServiceClient() as client:
        _report(client, client.start_canary(deployment, package, percent, step, interval), wait, as_json)


@canary.command("status")
@click.argument("deployment")
@json_option
def status_cmd(deployment: str, as_json: bool) -> None:
    """Show the canary of DEPLOYMENT (or its last one): share, schedule and health."""
    with ServiceClient() as client:
        answer = client.canary(deployment)
    if as_json:
        print_json(answer)
        return
    current = answer.get("canary")
    if not current:
        click.echo(f"deployment {deployment} has had no canary")
        return
    health = answer.get("health") or {}
    rows = [("model", f"{current['modelId']} ({current.get('packageName')})"), ("status", current["status"]),
            ("share", f"{current['percent']} % (traefik applies {answer.get('appliedPercent', 0)} %)"),
            ("schedule", f"+{current['step']} % every {current['intervalSec']:g} s" if current.get("step")
             else "manual promote"),
            ("health", f"{status_text(health.get('status', 'unknown'))} over {health.get('requests', 0)} requests"),
            ("started", current["startedAt"]), ("ended", current.get("endedAt") or "-"),
            ("why", current.get("reason") or "-")]
    print_table([{"key": k, "value": v} for k, v in rows], ["key", "value"], title=f"canary of {deployment}")


@canary.command("promote")
@click.argument("deployment")
@wait_option
@json_option
def canary_promote_cmd(deployment: str, wait: bool, as_json: bool) -> None:
    """Make the canary of DEPLOYMENT its champion now (zero downtime)."""
    with ServiceClient() as client:
        _then_wait(client, client.promote_canary(deployment), wait, as_json)


@canary.command("abort")
@click.argument("deployment")
@wait_option
@json_option
def abort_cmd(deployment: str, wait: bool, as_json: bool) -> None:
    """Send every request of DEPLOYMENT to its champion again and remove the canary."""
    with ServiceClient() as client:
        _report(client, client.abort_canary(deployment), wait, as_json)


def _fmt(value: float | None, spec: str = ".4g", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def compare_rows(answer: dict[str, Any]) -> tuple[list[dict[str, object]], list[str]]:
    """Return the rows and columns of the side-by-side table: one column per model, one row per figure."""
    models = answer["models"]
    columns = [f"{m['role']} {m['packageName'] or m['modelId']}" for m in models]
    figures: list[tuple[str, Any]] = [
        ("model id", lambda m: m["modelId"]),
        ("fed by", lambda m: m.get("feed") or "clients"),
        ("predictions", lambda m: m["predictions"]),
        ("errors (rate)", lambda m: f"{m['errors']} ({_fmt(m['errorRate'], '.1%')})"),
        ("latency p50 / p95", lambda m: f"{_fmt(m['latencyP50Ms'], '.1f')} / {_fmt(m['latencyP95Ms'], '.1f')} ms"),
        ("service health", lambda m: status_text(m["serviceHealth"])),
        ("prediction mean", lambda m: _fmt(m["predictionMean"])),
        ("prediction drift (PSI)", lambda m: f"{status_text(m['drift']['status'])} "
                                             f"{_fmt(m['drift'].get('prediction'))}"),
        ("agreement with champion", lambda m: f"{_fmt(m['agreement']['rate'], '.1%')} of "
                                              f"{m['agreement']['compared']}"),
        ("accuracy", lambda m: f"{m['accuracy']['metric']} {_fmt(m['accuracy']['value'])} "
                               f"({m['accuracy']['matched']} actuals)" if m["accuracy"]["metric"] else "no actuals"),
    ]
    rows = [{"figure": name, **{col: get(m) for col, m in zip(columns, models, strict=True)}}
            for name, get in figures]
    return rows, ["figure", *columns]


def print_compare(answer: dict[str, Any], title: str) -> None:
    """Print champion, challengers and canary side by side."""
    rows, columns = compare_rows(answer)
    print_table(rows, columns, title=title)


def register(group: click.Group) -> None:
    """Nothing to add to the root: the groups hang under `deployments`, imported above."""
