"""`bosun-local packages ...`: register, list and show model packages."""
from __future__ import annotations

from pathlib import Path

import click

from bosun_local.cli.output import err_console, json_option, print_json, print_table
from bosun_local.client import ServiceClient


@click.group("packages")
def packages() -> None:
    """Register and inspect model packages."""


@packages.command("register")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", help="Display name (default: model.yaml name, else the directory name).")
@click.option("--training-data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Training CSV for drift baselines (default: the package's training.csv).")
@json_option
def register_cmd(path: Path, name: str | None, training_data: Path | None, as_json: bool) -> None:
    """Register a package directory or .tar.gz (uploaded, so the service may run elsewhere)."""
    with ServiceClient() as client, err_console.status(f"uploading {path}", spinner="dots"):
        package = client.register_package(path, name=name, training_data=training_data)
    if as_json:
        print_json(package)
        return
    baseline = "with drift baseline" if package["hasBaseline"] else "no training data, no drift baseline"
    click.echo(f"registered package {package['name']} ({package['id']}), {package['targetType']}, {baseline}")


@packages.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """List packages, newest first."""
    with ServiceClient() as client:
        rows = client.list_packages()
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "features": len(r["features"]), "baseline": "yes" if r["hasBaseline"] else "no"} for r in rows],
                ["id", "name", "targetType", "features", "modelFormat", "baseline", "createdAt"])


@packages.command("show")
@click.argument("package")
@json_option
def show_cmd(package: str, as_json: bool) -> None:
    """Show a package by id or name."""
    with ServiceClient() as client:
        row = client.get_package(package)
    if as_json:
        print_json(row)
        return
    keys = ("id", "name", "targetName", "targetType", "classNames", "modelFile", "modelFormat", "trainingData",
            "hasBaseline", "path", "sizeBytes", "createdAt")
    rows = [{"key": k, "value": row[k]} for k in keys]
    rows.append({"key": "features", "value": ", ".join(f"{f['name']} ({f['type']})" for f in row["features"])})
    print_table(rows, ["key", "value"], title=f"package {row['name']}")


def register(group: click.Group) -> None:
    """Add the packages commands to the root group."""
    group.add_command(packages)
