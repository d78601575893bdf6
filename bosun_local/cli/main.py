"""Root command group: loads each component's commands and turns our errors into exit codes."""
from __future__ import annotations

import importlib
import sys

import click

from bosun_local import __version__
from bosun_local.contracts.names import terminal_safe
from bosun_local.errors import BosunError

# Each module defines `register(group)`; one line per component keeps the root free of their details.
COMMAND_MODULES: list[str] = [
    "bosun_local.cli.env_cmds",
    "bosun_local.cli.image_cmds",
    "bosun_local.cli.service_cmds",
    "bosun_local.cli.packages_cmds",
    "bosun_local.cli.deployments_cmds",
    "bosun_local.cli.traffic_cmds",
    "bosun_local.cli.events_cmds",
    "bosun_local.cli.monitor_cmds",
    "bosun_local.cli.actuals_cmds",
    "bosun_local.cli.dashboard_cmds",
    "bosun_local.cli.workshop_cmds",
    "bosun_local.cli.pps_cmds",
    "bosun_local.cli.agent_cmds",
    "bosun_local.cli.token_cmds",
    "bosun_local.cli.docker_proxy_cmds",
    "bosun_local.cli.swarm_cmds",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bosun-local")
def cli() -> None:
    """bosun-local: deploy, replace, monitor and watch models on one host."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    """Run the CLI: 0 ok, 1 failure, 2 usage error."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BosunError as exc:
        click.secho(f"error: {terminal_safe(exc.message)}", fg="red", err=True)
        if exc.fix:
            click.echo(f"  fix: {terminal_safe(exc.fix)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
