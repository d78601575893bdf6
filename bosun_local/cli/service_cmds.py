"""`bosun-local service run` and `bosun-local envs ...`: the MLOps service and its prediction environments."""
from __future__ import annotations

import click

from bosun_local.cli.output import json_option, print_json, print_table
from bosun_local.client import ServiceClient


@click.group("service")
def service() -> None:
    """Run the local MLOps service (the control plane)."""


@service.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def run(host: str, port: int) -> None:
    """Run the service in the foreground until interrupted (data in $BOSUN_HOME)."""
    from bosun_local.config import load_config
    from bosun_local.service.server import run as serve

    config = load_config()
    click.echo(f"bosun-local service on http://{host}:{port} (data dir {config.data_dir}, token in "
               f"{config.token_file})", err=True)
    serve(host, port, config)


@click.group("envs")
def envs() -> None:
    """List and show prediction environments."""


@envs.command("list")
@json_option
def list_envs(as_json: bool) -> None:
    """List prediction environments."""
    with ServiceClient() as client:
        rows = client.list_environments()
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "default": "yes" if r["isDefault"] else ""} for r in rows],
                ["id", "name", "platform", "default", "description"])


@envs.command("show")
@click.argument("env")
@json_option
def show_env(env: str, as_json: bool) -> None:
    """Show an environment (by id or name) with its plugin config."""
    with ServiceClient() as client:
        row = client.get_environment(env)
    if as_json:
        print_json(row)
        return
    fields = [{"key": k, "value": row[k]} for k in ("id", "name", "platform", "description", "command", "isDefault")]
    fields += [{"key": f"pluginConfig.{k}", "value": v} for k, v in row["pluginConfig"].items()]
    print_table(fields, ["key", "value"], title=f"environment {row['name']}")


@click.group("postgres")
def postgres() -> None:
    """A local PostgreSQL for the service (Debian's packages, a cluster of its own)."""


@postgres.command("ensure")
@click.option("--show-url", is_flag=True, help="Print the URL with its password (for databaseUrl).")
def postgres_ensure(show_url: bool) -> None:
    """Install, create and start the local PostgreSQL cluster and role when missing (idempotent)."""
    from bosun_local.service.postgres_server import URL_FILE, ensure_postgres
    from bosun_local.service.storage.postgres import redact

    url = ensure_postgres(lambda line: click.echo(line, err=True))
    click.echo(url if show_url else f"postgres: running, databaseUrl {redact(url)} (full URL in {URL_FILE})")


def register(group: click.Group) -> None:
    """Add the service, envs and postgres commands to the root group."""
    group.add_command(service)
    group.add_command(envs)
    group.add_command(postgres)
