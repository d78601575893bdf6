"""`bosun-local agent run`: the management agent in the foreground."""
from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType

import click

from bosun_local.agent import AgentSettings, ManagementAgent
from bosun_local.client import ServiceClient
from bosun_local.config import Config


@click.group("agent")
def agent() -> None:
    """The management agent: runs deployments' actions and keeps them healthy."""


@agent.command("run")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Deployments whose actions run at the same time.")
@click.option("--lease-sec", default=30.0, show_default=True, type=click.FloatRange(3, 3600),
              help="Lease of a claimed action (renewed while it runs; a dead agent's actions are re-run after it).")
@click.option("--status-interval-sec", default=2.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds between health checks (pe_status) of every environment.")
@click.option("--idle-status-interval-sec", default=10.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds between those checks while no deployment should run and no action is open.")
@click.option("--command-status-interval-sec", default=15.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds between health checks of environments whose plugin is an external command.")
@click.option("--poll-sec", default=0.5, show_default=True, type=click.FloatRange(0.05, 60),
              help="Seconds between claim attempts while the queue is empty.")
@click.option("--agent-id", default="", envvar="BOSUN_AGENT_ID",
              help="This agent's id (default: mgmt-<host>-<slot>, stable across restarts, so a restarted agent "
                   "resumes its own unfinished actions at once).")
@click.option("--no-heal", is_flag=True, help="Report broken deployments but do not relaunch them.")
@click.option("--package-checks/--no-package-checks", default=False, show_default=True,
              envvar="BOSUN_AGENT_PACKAGE_CHECKS",
              help="Load and score newly registered packages in sandbox containers (needs the engine).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def run(concurrency: int, lease_sec: float, status_interval_sec: float, idle_status_interval_sec: float,
        command_status_interval_sec: float, poll_sec: float, agent_id: str, no_heal: bool, package_checks: bool,
        log_level: str) -> None:
    """Run the management agent in the foreground until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)  # a line per channel and connection event otherwise
    settings = AgentSettings(concurrency=concurrency, lease_sec=lease_sec, status_interval_sec=status_interval_sec,
                             idle_status_interval_sec=idle_status_interval_sec,
                             command_status_interval_sec=command_status_interval_sec, poll_sec=poll_sec,
                             heal=not no_heal, agent_id=agent_id, package_checks=package_checks)
    management_agent = ManagementAgent(settings, package_checks=_package_checks if package_checks else None)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("received %s", signal.Signals(signum).name)
        management_agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.exit(management_agent.run())


def _package_checks(client: ServiceClient, config: Config, agent_id: str) -> Callable[[], object]:
    """Return the agent's package-check job: the sandbox runner, a component of its own (engine access)."""
    from bosun_local.sandbox.package_check import PackageChecker

    # A long poll: the service answers as soon as a package is registered (an idle agent asks every ~15 s).
    return PackageChecker(client, config, agent_id, wait_sec=AgentSettings.claim_wait_sec).drain


@agent.command("check-packages")
def check_packages() -> None:
    """Run every pending package check now, each in a sandbox container, and exit."""
    import os
    import socket

    from bosun_local.client import ServiceClient
    from bosun_local.config import load_config
    from bosun_local.sandbox.package_check import PackageChecker

    config = load_config()
    with ServiceClient(config=config) as client:
        count = PackageChecker(client, config, f"check-{socket.gethostname()}-{os.getpid()}").drain()
    click.echo(f"ran {count} package check(s)")


@agent.command("watchdog")
@click.option("--project", required=True, help="The environment stack's Compose project (projectName).")
def watchdog(project: str) -> None:
    """Start the management agent again whenever `docker kill` leaves it down (Docker's policies do not)."""
    from bosun_local.envstack.healing import watch

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    watch(project)


def register(group: click.Group) -> None:
    """Add the agent commands to the CLI."""
    group.add_command(agent)
