"""`bosun-local dashboard`: the Textual dashboard over the MLOps service."""
from __future__ import annotations

import click

from bosun_local.errors import UsageError


def register(group: click.Group) -> None:
    """Add the dashboard command to the root group."""
    group.add_command(dashboard)


@click.command()
@click.option("--url", default=None, help="Service URL (default: serviceUrl of the config, BOSUN_SERVICE_URL).")
@click.option("--token", default=None, help="Bearer token (default: <data dir>/token).")
@click.option("--interval", default=1.0, show_default=True, type=float,
              help="Seconds between refreshes.")
def dashboard(url: str | None, token: str | None, interval: float) -> None:
    """Watch environment and deployment health and events; deploy, replace, stop and start from the keyboard."""
    if interval < 0.1 or interval > 3600:
        raise UsageError(f"--interval {interval:g} is out of range", fix="give seconds between 0.1 and 3600")
    # Imported here so other commands do not pay for loading Textual.
    from bosun_local.client import ServiceClient
    from bosun_local.tui.app import DashboardApp

    client = ServiceClient(url=url, token=token, timeout=5.0)
    try:
        DashboardApp(client, interval=interval).run()
    finally:
        client.close()
