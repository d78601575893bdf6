"""`bosun-local workshop init|run|clean`: the enablement workshop in one command."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bosun_local.cli.output import console, json_option, print_json, print_table
from bosun_local.cli.progress import step_progress
from bosun_local.config import load_config
from bosun_local.workshop import scaffold
from bosun_local.workshop.cleanup import clean
from bosun_local.workshop.reporter import Reporter
from bosun_local.workshop.run import RunOptions, run

DIR = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


@click.group("workshop")
def workshop() -> None:
    """Scaffold and run the enablement workshop (train, serve, monitor the diabetes model)."""


@workshop.command("init")
@DIR
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--app-port", type=click.IntRange(1, 65535), default=scaffold.DEFAULT_APP_PORT, show_default=True,
              help="Host port (127.0.0.1) of the plain app.")
@click.option("--instrumented-port", type=click.IntRange(1, 65535), default=scaffold.DEFAULT_INSTRUMENTED_PORT,
              show_default=True, help="Host port (127.0.0.1) of the instrumented app.")
@json_option
def init_cmd(directory: Path, force: bool, app_port: int, instrumented_port: int, as_json: bool) -> None:
    """Write a ready workshop folder: model, apps, Dockerfiles, compose file, README."""
    files = scaffold.init(directory, load_config(), force=force, app_port=app_port,
                          instrumented_port=instrumented_port)
    rows = [{"file": str(f.path.relative_to(directory)), "action": f.action} for f in files]
    if as_json:
        print_json({"directory": str(directory.resolve()), "files": rows})
        return
    print_table(rows, ["file", "action"], title=f"workshop folder {directory}",
                style_of=lambda r: "yellow" if r["action"] == "kept" else None)
    if any(f.action == "kept" for f in files):
        console.print("[yellow]files marked kept already existed and were left as they are (--force overwrites)[/]")
    console.print(f"next: [bold]bosun-local workshop run {directory}[/] (or follow {directory}/README.md)")


@workshop.command("run")
@DIR
@click.option("--count", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="Predictions to send to the instrumented app.")
@click.option("--stats-timeout", type=click.FloatRange(1), default=180, show_default=True,
              help="Seconds to wait for the stats to count every prediction.")
@json_option
def run_cmd(directory: Path, count: int, stats_timeout: float, as_json: bool) -> None:
    """Run tasks 2 to 4.6: train, serve, register, monitor N predictions, then deploy through the agent."""
    config = load_config()
    with step_progress(enabled=not as_json) as progress:
        summary = run(directory, config, RunOptions(count=count, stats_timeout_sec=stats_timeout),
                      Reporter(progress))
    if as_json:
        print_json(summary)
        return
    _print_summary(summary)


def _number(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _print_summary(summary: dict[str, Any]) -> None:
    predictions = summary["predictions"]
    print_table([{"path": k, "prediction": f"{v:.6f}"} for k, v in predictions.items()], ["path", "prediction"],
                title="the notes' row, three paths")
    stats = summary.get("stats") or {}
    external = summary.get("externalDeployment") or {}
    rows = [("deployment", f"{external.get('name')} ({external.get('id')})"),
            ("predictions", _number(stats.get("predictions"))),
            ("error rate", _number(stats.get("errorRate"), 3)),
            ("latency p50 / p95 ms", f"{_number(stats.get('latencyP50Ms'))} / {_number(stats.get('latencyP95Ms'))}"),
            ("service health", str(stats.get("serviceHealth"))),
            ("drift", str((stats.get("drift") or {}).get("status")))]
    print_table([{"figure": k, "value": v} for k, v in rows], ["figure", "value"],
                title="monitoring of the instrumented app (external deployment)")
    managed = summary.get("managedDeployment") or {}
    timings = summary.get("timingsSec") or {}
    console.print(f"managed deployment {managed.get('name')} answers on {managed.get('predictUrl')}")
    console.print(f"took {sum(timings.values()):.0f} s; stats again: [bold]bosun-local stats {external.get('id')}[/]")
    console.print(f"watch it all: [bold]{summary['dashboardCommand']}[/]")


@workshop.command("clean")
@DIR
@click.option("--all", "everything", is_flag=True, help="Also stop the environment stack.")
@json_option
def clean_cmd(directory: Path, everything: bool, as_json: bool) -> None:
    """Remove what `workshop run` started: its deployments, app containers and images."""
    done = clean(directory, load_config(), everything=everything)
    if as_json:
        print_json(done)
        return
    console.print(f"deleted deployments: {', '.join(done['deployments']) or '-'}")
    console.print(f"removed containers: {', '.join(done['containers']) or '-'}")
    console.print(f"removed images: {', '.join(done['images']) or '-'}")
    if done["environmentStack"]:
        console.print("stopped the environment stack")


def register(group: click.Group) -> None:
    """Add the workshop commands to the root group."""
    group.add_command(workshop)
