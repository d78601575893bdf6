"""`bosun-local events`, `bosun-local stats` and `bosun-local notifications ...`."""
from __future__ import annotations

import click

from bosun_local.cli.output import json_option, print_json, print_table, status_text
from bosun_local.client import ServiceClient
from bosun_local.contracts.states import EVENT_STATUSES

STATUSES = EVENT_STATUSES


@click.command("events")
@click.option("--deployment", help="Deployment id or name.")
@click.option("--type", "types", multiple=True, help="Event type, e.g. action_failed (repeatable).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Status (repeatable).")
@click.option("--search", help="Text to find in message, type or data.")
@click.option("--since", help="ISO time or age: 15m, 2h, 7d.")
@click.option("--until", help="ISO time or age.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000), help="Rows in the table/json.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@json_option
def events(deployment: str | None, types: tuple[str, ...], statuses: tuple[str, ...], search: str | None,
           since: str | None, until: str | None, limit: int, fmt: str, as_json: bool) -> None:
    """Show events (newest first), or export them (oldest first) with --format json|csv."""
    with ServiceClient() as client:
        dep_id = client.get_deployment(deployment)["id"] if deployment else None
        if as_json:
            fmt = "json"
        if fmt in ("json", "csv"):
            click.echo(client.export_events(fmt, dep_id, types, statuses, since, until, search), nl=False)
            return
        rows = client.list_events(dep_id, types, statuses, since, until, search, limit)
        names = {d["id"]: d["name"] for d in client.list_deployments(include_deleted=True)} if rows else {}
    print_table([{**r, "status": status_text(r["status"]), "time": r["time"][:19].replace("T", " "),
                  "deployment": names.get(r.get("deploymentId") or "", r.get("deploymentId") or "")}
                 for r in rows], ["time", "status", "type", "deployment", "message"])


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.4g}{unit}"


@click.command("stats")
@click.argument("deployment")
@click.option("--window", default="1h", show_default=True, help="Seconds or an age: 15m, 1h, 1d.")
@click.option("--compare", is_flag=True, help="Champion, challengers and canary side by side (agreement too).")
@json_option
def stats(deployment: str, window: str, compare: bool, as_json: bool) -> None:
    """Show service health, latency, drift and accuracy of DEPLOYMENT over a time window."""
    from bosun_local.errors import UsageError
    from bosun_local.service.timeutil import parse_duration

    try:
        seconds = int(parse_duration(window))
    except ValueError as exc:
        raise UsageError(f"--window {window!r} is not a duration", fix="give seconds or 15m, 1h, 1d") from exc
    with ServiceClient() as client:
        dep = client.get_deployment(deployment)
        if compare:
            from bosun_local.cli.traffic_cmds import print_compare

            side_by_side = client.compare(dep["id"], max(seconds, 60))
            if as_json:
                print_json(side_by_side)
            else:
                print_compare(side_by_side, f"deployment {dep['name']}, last {side_by_side['window']} s")
            return
        figures = client.stats(dep["id"], max(seconds, 60))
    if as_json:
        print_json(figures)
        return
    print_table(stats_rows(figures), ["figure", "value"], title=f"deployment {dep['name']}, last {figures['window']} s")


DRIFT_NAMES = {"psi": "PSI", "jsd": "JSD", "hellinger": "Hellinger"}


def stats_rows(figures: dict) -> list[dict[str, object]]:
    """Return the figure/value rows of the stats table: health, latency, drift by metric, accuracy."""
    drift = figures["drift"]
    rows: list[dict[str, object]] = [
        {"figure": "predictions", "value": figures["predictions"]},
        {"figure": "errors (user/system)", "value": f"{figures['userErrors']}/{figures['systemErrors']}"},
        {"figure": "error rate", "value": _fmt(figures["errorRate"])},
        {"figure": "latency p50/p95/p99", "value": " / ".join(_fmt(figures[k], " ms") for k in
                                                             ("latencyP50Ms", "latencyP95Ms", "latencyP99Ms"))},
        {"figure": "latency min/mean/max", "value": " / ".join(_fmt(figures.get(k), " ms") for k in
                                                              ("latencyMinMs", "latencyMeanMs", "latencyMaxMs"))},
        {"figure": "service health", "value": status_text(figures["serviceHealth"])},
        {"figure": f"drift (by {DRIFT_NAMES.get(drift.get('metric', 'psi'), 'PSI')})",
         "value": status_text(drift["status"])},
    ]
    for metric, label in DRIFT_NAMES.items():
        values = drift.get(metric) or ({"prediction": drift["prediction"], "features": drift["features"]}
                                       if metric == "psi" else None)
        if values is None:
            continue
        rows.append({"figure": f"{label} prediction", "value": _fmt(values["prediction"])})
        rows += [{"figure": f"{label} {name}", "value": _fmt(value)} for name, value in values["features"].items()]
    accuracy = figures.get("accuracy")
    if accuracy:
        rows.append({"figure": f"accuracy ({accuracy.get('targetType') or 'no target type yet'})",
                     "value": f"{status_text(accuracy['status'])} by {accuracy.get('metric') or '-'}"})
        rows.append({"figure": "actuals matched / waiting for a prediction",
                     "value": f"{accuracy['matched']} / {accuracy.get('waitingActuals', 0)}"})
        rows += [{"figure": name, "value": _fmt(value)} for name, value in (accuracy.get("metrics") or {}).items()]
    for metric in figures.get("customMetrics") or []:
        scope = f" (model {metric['modelId']})" if metric.get("modelId") else ""
        rows.append({"figure": f"metric {metric['metricId']}{scope} {metric['aggregation']}",
                     "value": f"{_fmt(metric['value'])} ({metric['count']} values) {status_text(metric['status'])}"})
    rows += [{"figure": f"reported {type_}", "value": n} for type_, n in (figures.get("reportedEvents") or {}).items()]
    return rows


@click.group("notifications")
def notifications() -> None:
    """Webhook notification rules (Slack-compatible)."""


@notifications.command("list")
@json_option
def list_rules(as_json: bool) -> None:
    """List webhook rules."""
    with ServiceClient() as client:
        rows = client.list_notifications()
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "types": ",".join(r["types"]) or "*", "statuses": ",".join(r["statuses"]) or "*"} for r in rows],
                ["id", "name", "url", "types", "statuses", "deploymentId"])


@notifications.command("add")
@click.argument("url")
@click.option("--name", default="", help="Label.")
@click.option("--type", "types", multiple=True, help="Only these event types (repeatable).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only these statuses.")
@click.option("--deployment", help="Only this deployment (id or name).")
@json_option
def add_rule(url: str, name: str, types: tuple[str, ...], statuses: tuple[str, ...], deployment: str | None,
             as_json: bool) -> None:
    """Post matching events to URL as `{"text": ...}`."""
    with ServiceClient() as client:
        dep_id = client.get_deployment(deployment)["id"] if deployment else None
        rule = client.create_notification(url, name, types, statuses, dep_id)
    if as_json:
        print_json(rule)
    else:
        click.echo(f"added notification rule {rule['id']} -> {rule['url']}")


@notifications.command("delete")
@click.argument("rule_id")
def delete_rule(rule_id: str) -> None:
    """Delete a webhook rule."""
    with ServiceClient() as client:
        client.delete_notification(rule_id)
    click.echo(f"deleted notification rule {rule_id}")


def register(group: click.Group) -> None:
    """Add events, stats and notifications to the root group."""
    group.add_command(events)
    group.add_command(stats)
    group.add_command(notifications)
