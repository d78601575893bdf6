"""`bosun-local dashboard`: the Textual dashboard over the MLOps service."""
from __future__ import annotations

import click

from bosun_local.errors import UsageError


def register(group: click.Group) -> None:
    """Add the dashboard command to the root group."""
    group.add_command(dashboard)


@click.command()
@click.option("--url", default=None, help="Service URL (default: serviceUrl of the config, BOSUN_SERVICE_URL).")
@click.option("--token", default=None, envvar="BOSUN_DASHBOARD_SERVICE_TOKEN", show_envvar=True,
              help="Bearer token (default: <data dir>/token).")
@click.option("--interval", default=1.0, show_default=True, type=float,
              help="Seconds between refreshes.")
@click.option("--web", is_flag=True, help="Serve the dashboard to a browser instead of this terminal.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --web: address to listen on (loopback unless you mean to share it).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="With --web: port.")
@click.option("--web-token", default=None, envvar="BOSUN_DASHBOARD_TOKEN", show_envvar=True,
              help="With --web: the token browsers must present (default: a new random one, printed in the URL).")
def dashboard(url: str | None, token: str | None, interval: float, web: bool, host: str, port: int,
              web_token: str | None) -> None:
    """Watch environment and deployment health and events; deploy, replace, stop and start from the keyboard."""
    if interval < 0.1 or interval > 3600:
        raise UsageError(f"--interval {interval:g} is out of range", fix="give seconds between 0.1 and 3600")
    if web:
        try:
            from bosun_local.tui.web import serve
        except ImportError as exc:
            raise UsageError(f"--web needs textual-serve, which is not installed ({exc})",
                             fix="pip install 'bosun-local[web]' (or pip install textual-serve)") from None
        serve(url, token, interval, host, port, web_token)
        return
    # Imported here so other commands do not pay for loading Textual.
    from bosun_local.client import ServiceClient
    from bosun_local.tui.app import DashboardApp

    client = ServiceClient(url=url, token=token, timeout=5.0)
    try:
        DashboardApp(client, interval=interval).run()
    finally:
        client.close()
