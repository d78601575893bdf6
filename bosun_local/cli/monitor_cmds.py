"""`bosun-local monitor run|scale|depth`: the monitoring agent and its backlog scaler."""
from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from bosun_local.agent.backlog_scaler import ScalerPolicy
from bosun_local.cli.output import console, json_option, print_json
from bosun_local.errors import UsageError
from bosun_local.monitoring.config import AgentConfig, load_agent_config
from bosun_local.spool import registry
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.sqs.config import SqsChannelConfig
from bosun_local.spool.sqs.queues import queue_name
from bosun_local.spool.sqs.queues import queue_stats as sqs_queue_stats

config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                             help="A mlops.agent.conf.yaml (default: MLOPS_AGENT_CONFIG_YAML, else the "
                                  "environment stack's RabbitMQ queue, service URL and token).")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _queue_channel(config: AgentConfig) -> Any:
    """Return the first channel that is a queue (RabbitMQ or SQS): the backlog the scaler reads."""
    channel = next((c for c in config.channels if isinstance(c, RabbitChannelConfig | SqsChannelConfig)), None)
    if channel is None:
        raise UsageError("the monitoring agent configuration has no RABBITMQ_SPOOL or SQS_SPOOL channel to measure",
                         fix="add one to --config or set MLOPS_SPOOLER_TYPE=RABBITMQ (or SQS)")
    return channel


def _queue_figures(channel: Any) -> tuple[str, int, int]:
    """Return (queue name, ready messages, dead letters) of a RabbitMQ or SQS channel."""
    if isinstance(channel, SqsChannelConfig):
        stats = sqs_queue_stats(channel.queue_url)
        return queue_name(channel.queue_url), stats.depth, stats.dead
    dead = registry.stats(RabbitChannelConfig(channel.queue_url, channel.dead_letter_queue)).depth
    return channel.queue_name, registry.stats(channel).depth, dead


@click.command("run")
@config_option
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]),
              show_default=True)
@click.option("--status-every", default=10.0, show_default=True, help="Seconds between progress log lines.")
def run(config_path: Path | None, log_level: str, status_every: float) -> None:
    """Run a monitoring agent: read the spool, aggregate, write to the service (until SIGTERM / Ctrl-C)."""
    from bosun_local.monitoring.agent import MonitoringAgent

    _setup_logging(log_level)
    config = load_agent_config(config_path)
    agent = MonitoringAgent(config)
    _stop_on_signals(agent.stop_event)
    log = logging.getLogger("bosun_local.monitoring")
    log.info("monitoring agent %s -> %s, channels: %s", config.agent_id, config.service_url,
             "; ".join(c.describe() for c in config.channels))
    agent.start()
    last_rows, last_time = 0, time.monotonic()
    try:
        while not agent.stop_event.wait(status_every):
            snap = agent.counters.snapshot()
            now = time.monotonic()
            log.info("stored %d record(s), %d duplicate(s), %d rejected, %.0f rows/s", snap["stored"],
                     snap["duplicates"], snap["rejected"], (snap["rows"] - last_rows) / max(now - last_time, 1e-9))
            last_rows, last_time = snap["rows"], now
    finally:
        agent.stop()
        log.info("stopped: %s", agent.counters.snapshot())


@click.command("depth")
@config_option
@click.option("--per-agent", default=500, show_default=True, help="Queued messages one agent handles.")
@click.option("--target-concurrency", default=4, show_default=True, help="Most agents to run.")
@click.option("--min-replicas", default=1, show_default=True, help="Fewest agents to run.")
@json_option
def depth(config_path: Path | None, per_agent: int, target_concurrency: int, min_replicas: int,
          as_json: bool) -> None:
    """Show the queue depth and how many monitoring agents the backlog asks for."""
    channel = _queue_channel(load_agent_config(config_path))
    policy = _policy(per_agent, target_concurrency, min_replicas, 0.0)
    name, ready, dead = _queue_figures(channel)
    result = {"queue": name, "depth": ready, "deadLetters": dead, "wantedReplicas": policy.wanted(ready),
              "policy": {"perAgent": per_agent, "targetConcurrency": target_concurrency, "minReplicas": min_replicas}}
    if as_json:
        print_json(result)
    else:
        console.print(f"queue {name!r}: {ready} ready, {dead} dead-lettered; "
                      f"the backlog asks for {result['wantedReplicas']} agent(s)")


def _policy(per_agent: int, target: int, minimum: int, cooldown: float, error_window: float = 3600.0,
            max_run: float = 0.0) -> ScalerPolicy:
    try:
        return ScalerPolicy(per_agent, target, minimum, cooldown, error_window, max_run)
    except ValueError as exc:
        raise UsageError(str(exc), fix="use --per-agent >= 1, --target-concurrency >= --min-replicas, "
                                       "--error-window and --max-run-sec >= 0") from exc


@click.command("scale")
@config_option
@click.option("--per-agent", default=500, show_default=True, help="Queued messages one agent handles (itemsPerAgent).")
@click.option("--target-concurrency", default=4, show_default=True, help="Most agents to run.")
@click.option("--min-replicas", default=1, show_default=True, help="Fewest agents to run.")
@click.option("--cooldown", default=30.0, show_default=True, help="Seconds the backlog must stay low to scale down.")
@click.option("--error-window", default=3600.0, show_default=True,
              help="Seconds after an agent failure during which no agent is recruited (errorWindowSec).")
@click.option("--max-run-sec", default=0.0, show_default=True,
              help="Time limit of one agent; with backlog left it hands over to a fresh one (0: no limit).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between queue-depth checks.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]),
              show_default=True)
@json_option
def scale(config_path: Path | None, per_agent: int, target_concurrency: int, min_replicas: int, cooldown: float,
          error_window: float, max_run_sec: float, interval: float, log_level: str, as_json: bool) -> None:
    """Run local monitoring agents scaled by the queue backlog (until SIGTERM / Ctrl-C).

    With --json, each round's state (depth, replicas, error window, handovers) is printed as one JSON line;
    decisions are also posted to the service as events.
    """
    from bosun_local.agent.backlog_scaler import BacklogScaler
    from bosun_local.client import ServiceClient
    from bosun_local.errors import BosunError
    from bosun_local.monitoring.local_replicas import LocalProcessScaler

    _setup_logging(log_level)
    config = load_agent_config(config_path)
    channel = _queue_channel(config)
    args = ["--config", str(config_path)] if config_path else []
    replicas = LocalProcessScaler(args, log_dir=None)
    client = ServiceClient(config.service_url, config.token, timeout=5)

    def on_event(type_: str, message: str, data: dict[str, Any]) -> None:
        try:
            client.post_event(type_, "warning" if "blocked" in type_ else "info", message, data=data)
        except BosunError as exc:
            logging.getLogger("bosun_local.monitoring.scaler").warning("could not post %s: %s", type_, exc.message)

    scaler = BacklogScaler(replicas, lambda: registry.stats(channel).depth,
                           _policy(per_agent, target_concurrency, min_replicas, cooldown, error_window, max_run_sec),
                           replicas=replicas, on_event=on_event)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        scaler.run(stop, interval, on_round=(lambda state: print(json.dumps(state), flush=True)) if as_json else None)
    finally:
        replicas.stop_all()
        client.close()


def register(group: click.Group) -> None:
    """Add the `monitor` command group."""

    @group.group("monitor")
    def monitor() -> None:
        """The monitoring agent: spool -> service-health and drift figures."""

    monitor.add_command(run)
    monitor.add_command(depth)
    monitor.add_command(scale)
